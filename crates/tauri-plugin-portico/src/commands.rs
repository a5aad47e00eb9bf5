//! The plugin's IPC commands, thin: identify the caller from the webview the call came from
//! (label set by the host, origin of the page it shows), check the command's audience scope,
//! call the broker. MFE webviews get the `default` set (the plugin's runtime capability per MFE);
//! the host's UI gets `host-ui` from the host's capability file.

use std::sync::Arc;

use portico_broker::{Audience, AuthError, AuthRequirement, ScopeSet, TokenGrant, TokenRequest};
use portico_shell_core::config::MFE_LABEL_PREFIX;
use portico_shell_core::{AccessDenied, MfeEntry, TokenExposure};
use serde_json::Value;
use tauri::ipc::{Channel, CommandScope, GlobalScope};
use tauri::{AppHandle, Runtime, State, Webview};

use crate::desktop::Portico;
use crate::models::{
    AudienceScope, GetTokenArgs, HostPush, HostState, MfeContext, MfePush, TokenStatus,
};

type PorticoState<'a> = State<'a, Arc<Portico>>;

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
    portico: &'a Portico,
    webview: &Webview<R>,
) -> Result<&'a MfeEntry, AuthError> {
    let url = match portico.mfe_page(webview.label()) {
        Some(url) => url,
        None => webview.url().map_err(internal)?,
    };
    portico
        .policy()
        .caller(webview.label(), &url)
        .map_err(denied)
}

/// Host-UI commands are never for an MFE webview, whatever a capability file says.
fn require_host_ui<R: Runtime>(webview: &Webview<R>) -> Result<(), AuthError> {
    if webview.label().starts_with(MFE_LABEL_PREFIX) {
        Err(AuthError::NotPermitted {
            reason: "only the host's own UI may drive the session".into(),
        })
    } else {
        Ok(())
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

/// `get_token`'s arguments from the raw JSON: `audience` required, a string; `scopes` optional,
/// one space-separated string (RFC 6749 §3.3). Typed errors naming the argument.
pub(crate) fn get_token_args(
    audience: Option<&Value>,
    scopes: Option<&Value>,
) -> Result<GetTokenArgs, AuthError> {
    let audience = match audience {
        Some(Value::String(s)) => s.clone(),
        None | Some(Value::Null) => {
            return Err(AuthError::InvalidAudience {
                reason: "`audience` is required: the URI of the API the token is for".into(),
            })
        }
        Some(other) => {
            return Err(AuthError::InvalidAudience {
                reason: format!("`audience` must be a string, not {}", json_kind(other)),
            })
        }
    };
    let scopes = match scopes {
        None | Some(Value::Null) => None,
        Some(Value::String(s)) => Some(s.clone()),
        Some(other) => {
            return Err(AuthError::InvalidScope {
                reason: format!(
                    "`scopes` must be one space-separated string, not {}",
                    json_kind(other)
                ),
            })
        }
    };
    Ok(GetTokenArgs {
        audience,
        scopes,
        acr_values: None,
        max_age: None,
        claims: None,
    })
}

/// `get_token`'s step-up arguments (`acrValues`: a list of strings or one space-separated
/// string, `maxAge`: seconds, `claims`: a JSON object or its text), checked; empty when none.
pub(crate) fn step_up_args(
    acr_values: Option<&Value>,
    max_age: Option<&Value>,
    claims: Option<&Value>,
) -> Result<AuthRequirement, AuthError> {
    let bad = |reason: String| AuthError::InvalidStepUp { reason };
    let acr: Vec<String> = match acr_values {
        None | Some(Value::Null) => Vec::new(),
        Some(Value::String(s)) => s.split_whitespace().map(str::to_owned).collect(),
        Some(Value::Array(items)) => {
            let mut out = Vec::with_capacity(items.len());
            for v in items {
                match v {
                    Value::String(s) => out.push(s.clone()),
                    other => {
                        return Err(bad(format!(
                            "`acrValues` must hold strings, not {}",
                            json_kind(other)
                        )))
                    }
                }
            }
            out
        }
        Some(other) => {
            return Err(bad(format!(
                "`acrValues` must be a list of strings, not {}",
                json_kind(other)
            )))
        }
    };
    let max_age =
        match max_age {
            None | Some(Value::Null) => None,
            Some(Value::Number(n)) => Some(n.as_u64().ok_or_else(|| {
                bad("`maxAge` must be a whole number of seconds, 0 or more".into())
            })?),
            Some(other) => {
                return Err(bad(format!(
                    "`maxAge` must be a number of seconds, not {}",
                    json_kind(other)
                )))
            }
        };
    let claims = match claims {
        None | Some(Value::Null) => None,
        Some(Value::String(s)) => Some(s.clone()),
        Some(v @ Value::Object(_)) => Some(v.to_string()),
        Some(other) => {
            return Err(bad(format!(
                "`claims` must be a JSON object, not {}",
                json_kind(other)
            )))
        }
    };
    AuthRequirement::new(acr, max_age, claims)
}

/// The audiences a webview's capabilities allow and deny for `get_token` (command scope and the
/// plugin's global scope together). Deny wins.
pub(crate) struct AudienceRules {
    allow: Vec<String>,
    deny: Vec<String>,
}

impl AudienceRules {
    pub(crate) fn new(
        command: &CommandScope<AudienceScope>,
        global: &GlobalScope<AudienceScope>,
    ) -> Self {
        let collect = |a: &Vec<Arc<AudienceScope>>, b: &Vec<Arc<AudienceScope>>| {
            a.iter()
                .chain(b.iter())
                .map(|e| e.audience.clone())
                .collect()
        };
        Self {
            allow: collect(command.allows(), global.allows()),
            deny: collect(command.denies(), global.denies()),
        }
    }

    pub(crate) fn from_lists(allow: Vec<String>, deny: Vec<String>) -> Self {
        Self { allow, deny }
    }

    /// Whether `audience` is allowed and not denied (exact match).
    pub fn admits(&self, audience: &str) -> bool {
        !self.deny.iter().any(|a| a == audience) && self.allow.iter().any(|a| a == audience)
    }
}

/// Why a `get_token` call is refused before it reaches the broker.
pub(crate) enum Refusal {
    /// The access policy or the scope said no (logged by `denied`, once, when reported).
    Denied(AccessDenied),
    /// Not a valid request.
    Invalid(AuthError),
}

impl From<AuthError> for Refusal {
    fn from(e: AuthError) -> Self {
        Refusal::Invalid(e)
    }
}

impl Refusal {
    pub(crate) fn into_error(self) -> AuthError {
        match self {
            Refusal::Denied(e) => denied(e),
            Refusal::Invalid(e) => e,
        }
    }
}

/// What a `get_token` call asks for, checked: its arguments, the caller (the webview's label and
/// the page it shows) against the registry, the audience against the command's scope, the scopes
/// against the MFE's registration. Both the command and the cache fast path go through here.
pub(crate) fn token_request<R: Runtime>(
    portico: &Portico,
    webview: &Webview<R>,
    rules: &AudienceRules,
    audience: Option<&Value>,
    scopes: Option<&Value>,
) -> Result<TokenRequest, Refusal> {
    let args = get_token_args(audience, scopes)?;
    let audience = Audience::parse(&args.audience).map_err(AuthError::from)?;
    // The page the webview started loading, recorded on the main thread by the page-load hook;
    // asking the webview itself from the async command would cost an event-loop round trip.
    let url = match portico.mfe_page(webview.label()) {
        Some(url) => url,
        None => webview.url().map_err(internal)?,
    };
    let mfe = portico
        .policy()
        .caller(webview.label(), &url)
        .map_err(Refusal::Denied)?;
    if !rules.admits(audience.as_str()) {
        return Err(Refusal::Denied(AccessDenied::ForbiddenAudience {
            mfe: mfe.id.clone(),
            audience: audience.to_string(),
        }));
    }
    // A fetch-only page never holds a token, even for its own audience (issue 16.4).
    if mfe.token_exposure == TokenExposure::FetchOnly {
        return Err(Refusal::Invalid(AuthError::TokenNotExposed));
    }
    let wanted =
        ScopeSet::parse(args.scopes.as_deref().unwrap_or("").trim()).map_err(AuthError::from)?;
    let ceiling = portico.ceiling(mfe, &audience)?;
    Ok(TokenRequest::new(
        mfe.id.clone(),
        audience,
        wanted,
        ceiling,
    )?)
}

/// An access token for an audience in the caller's scope, never beyond its registered scopes;
/// with `acrValues`, `maxAge` or `claims`, one whose sign-in meets them (a step-up).
#[tauri::command]
// Each argument is one field of the IPC message.
#[allow(clippy::too_many_arguments)]
pub(crate) async fn get_token<R: Runtime>(
    webview: Webview<R>,
    portico: PorticoState<'_>,
    command_scope: CommandScope<AudienceScope>,
    global_scope: GlobalScope<AudienceScope>,
    audience: Option<Value>,
    scopes: Option<Value>,
    acr_values: Option<Value>,
    max_age: Option<Value>,
    claims: Option<Value>,
) -> Result<TokenGrant, AuthError> {
    // Arguments arrive as raw JSON so that a wrong type gets our typed error, not Tauri's
    // free-text "invalid args" string that a client cannot switch on.
    let rules = AudienceRules::new(&command_scope, &global_scope);
    let request = token_request(
        &portico,
        &webview,
        &rules,
        audience.as_ref(),
        scopes.as_ref(),
    )
    .map_err(Refusal::into_error)?;
    let requirement = step_up_args(acr_values.as_ref(), max_age.as_ref(), claims.as_ref())?;
    let result = if requirement.is_empty() {
        portico.broker().token_for(&request).await
    } else {
        portico.broker().token_meeting(&request, &requirement).await
    };
    portico.push_token_status();
    result
}

/// A request to one of the caller's APIs, made by the shell with that API's token (the page
/// never sees it). Answers with raw bytes: see [`crate::models::FetchHead`].
#[tauri::command]
pub(crate) async fn fetch<R: Runtime>(
    webview: Webview<R>,
    portico: PorticoState<'_>,
    command_scope: CommandScope<AudienceScope>,
    global_scope: GlobalScope<AudienceScope>,
    request: Option<Value>,
) -> Result<tauri::ipc::Response, AuthError> {
    let request = crate::fetch::fetch_request(request.as_ref())?;
    let input = crate::fetch::fetch_input(&request)?;
    let mfe = calling_mfe(&portico, &webview)?;
    // Scoped like `get_token` (the plugin's runtime capability scopes the whole set): an API
    // whose audience the webview's scope does not admit, or denies, is out of reach.
    let rules = AudienceRules::new(&command_scope, &global_scope);
    let caller = crate::fetch::fetch_caller(&portico, mfe, |a| rules.admits(a))?;
    let label = webview.label().to_owned();
    let abort = request
        .abort_id
        .as_deref()
        .map(|id| portico.aborts().register(&label, id));
    let aborted = async move {
        match abort {
            Some(rx) => {
                // A dropped sender (the request finished) is not an abort.
                if rx.await.is_err() {
                    std::future::pending::<()>().await
                }
            }
            None => std::future::pending().await,
        }
    };
    let result = portico.broker().fetch(&caller, input, aborted).await;
    if let Some(id) = &request.abort_id {
        portico.aborts().finish(&label, id);
    }
    portico.push_token_status();
    Ok(tauri::ipc::Response::new(crate::fetch::frame(result?)?))
}

/// Aborts the caller's own running `fetch` with this id (another page's ids are not its own).
#[tauri::command]
pub(crate) fn fetch_abort<R: Runtime>(
    webview: Webview<R>,
    portico: PorticoState<'_>,
    abort_id: Option<Value>,
) -> Result<bool, AuthError> {
    calling_mfe(&portico, &webview)?;
    let Some(Value::String(id)) = abort_id else {
        return Err(AuthError::FetchRefused {
            reason: portico_broker::FetchDefect::InvalidRequest,
            detail: "`abortId` must be the string the request was started with".into(),
        });
    };
    Ok(portico.aborts().abort(webview.label(), &id))
}

/// No-op round trip: the floor of Tauri IPC that `cargo xtask bench` compares `get_token` with.
#[tauri::command]
pub(crate) fn mfe_ping() {}

/// Push channel for this webview's own token refreshes and session changes.
#[tauri::command]
pub(crate) fn mfe_subscribe<R: Runtime>(
    webview: Webview<R>,
    portico: PorticoState<'_>,
    channel: Channel<MfePush>,
) -> Result<(), AuthError> {
    calling_mfe(&portico, &webview)?;
    let _ = channel.send(MfePush::SessionChanged {
        session: portico.broker().session(),
    });
    portico.add_mfe_channel(webview.label(), channel);
    Ok(())
}

/// The caller's own registration: id, title, audiences, scopes, settings.
#[tauri::command]
pub(crate) fn mfe_context<R: Runtime>(
    webview: Webview<R>,
    portico: PorticoState<'_>,
) -> Result<MfeContext, AuthError> {
    let mfe = calling_mfe(&portico, &webview)?;
    Ok(MfeContext {
        id: mfe.id.clone(),
        title: mfe.title.clone(),
        audiences: mfe
            .audiences
            .iter()
            .map(|a| a.as_str().to_owned())
            .collect(),
        scopes: mfe.scopes.clone(),
        settings: mfe.settings.clone(),
        apis: mfe
            .apis
            .iter()
            .map(|a| crate::models::MfeApiView {
                base_url: a.base.url().to_string(),
                audience: a.audience.as_str().to_owned(),
            })
            .collect(),
        token_exposure: match mfe.token_exposure {
            TokenExposure::Page => crate::models::TokenExposureView::Page,
            TokenExposure::FetchOnly => crate::models::TokenExposureView::FetchOnly,
        },
    })
}

/// An MFE asks the host to start the sign-in (the plugin owns the browser flow).
#[tauri::command]
pub(crate) async fn mfe_sign_in<R: Runtime>(
    app: AppHandle<R>,
    webview: Webview<R>,
    portico: PorticoState<'_>,
) -> Result<(), AuthError> {
    calling_mfe(&portico, &webview)?;
    let portico = Arc::clone(&portico);
    if portico.broker().session().is_some() || portico.broker().pending_login() {
        return Ok(());
    }
    portico.sign_in(&app).await
}

#[tauri::command]
pub(crate) fn host_state<R: Runtime>(
    webview: Webview<R>,
    portico: PorticoState<'_>,
) -> Result<HostState, AuthError> {
    require_host_ui(&webview)?;
    Ok(portico.host_state())
}

#[tauri::command]
pub(crate) fn host_subscribe<R: Runtime>(
    webview: Webview<R>,
    portico: PorticoState<'_>,
    channel: Channel<HostPush>,
) -> Result<(), AuthError> {
    require_host_ui(&webview)?;
    portico.add_host_channel(channel);
    portico.push_token_status_now();
    Ok(())
}

#[tauri::command]
pub(crate) async fn host_sign_in<R: Runtime>(
    app: AppHandle<R>,
    webview: Webview<R>,
    portico: PorticoState<'_>,
) -> Result<(), AuthError> {
    require_host_ui(&webview)?;
    Arc::clone(&portico).sign_in(&app).await
}

#[tauri::command]
pub(crate) fn host_cancel_sign_in<R: Runtime>(
    webview: Webview<R>,
    portico: PorticoState<'_>,
) -> Result<(), AuthError> {
    require_host_ui(&webview)?;
    portico.cancel_sign_in();
    Ok(())
}

#[tauri::command]
pub(crate) async fn host_sign_out<R: Runtime>(
    app: AppHandle<R>,
    webview: Webview<R>,
    portico: PorticoState<'_>,
) -> Result<(), AuthError> {
    require_host_ui(&webview)?;
    Arc::clone(&portico).sign_out(&app).await
}

#[tauri::command]
pub(crate) fn host_token_status<R: Runtime>(
    webview: Webview<R>,
    portico: PorticoState<'_>,
) -> Result<Vec<TokenStatus>, AuthError> {
    require_host_ui(&webview)?;
    Ok(portico.token_status())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    const BILLING: &str = "https://api.portico.dev/billing";

    #[test]
    fn deny_wins_and_matching_is_exact() {
        let rules = AudienceRules::from_lists(vec![BILLING.into()], vec![]);
        assert!(rules.admits(BILLING));
        assert!(!rules.admits(&format!("{BILLING}/")));
        assert!(!rules.admits(&BILLING.to_uppercase()));
        let rules = AudienceRules::from_lists(vec![BILLING.into()], vec![BILLING.into()]);
        assert!(!rules.admits(BILLING));
        assert!(!AudienceRules::from_lists(vec![], vec![]).admits(BILLING));
    }

    #[test]
    fn step_up_arguments_are_read_in_either_form_and_refused_typed() {
        let r = step_up_args(Some(&json!("mfa phr")), Some(&json!(300)), None).unwrap();
        assert_eq!(r.acr_values(), ["mfa", "phr"]);
        assert_eq!(r.max_age(), Some(300));
        let r = step_up_args(Some(&json!(["mfa"])), None, Some(&json!({"id_token": {}}))).unwrap();
        assert_eq!(r.claims(), Some(r#"{"id_token":{}}"#));
        assert!(step_up_args(None, None, None).unwrap().is_empty());
        for (acr, age, claims) in [
            (Some(json!(1)), None, None),
            (Some(json!([1])), None, None),
            (None, Some(json!(-1)), None),
            (None, Some(json!("60")), None),
            (None, None, Some(json!([]))),
        ] {
            let e = step_up_args(acr.as_ref(), age.as_ref(), claims.as_ref()).unwrap_err();
            assert_eq!(e.kind(), "invalid_step_up", "{e}");
        }
    }

    #[test]
    fn arguments_of_the_wrong_type_are_named() {
        let e = get_token_args(Some(&json!(1)), None).unwrap_err();
        assert_eq!(e.kind(), "invalid_audience");
        let e = get_token_args(Some(&json!(BILLING)), Some(&json!(["a"]))).unwrap_err();
        assert_eq!(e.kind(), "invalid_scope");
        let ok = get_token_args(Some(&json!(BILLING)), Some(&json!("read:x"))).unwrap();
        assert_eq!(ok.scopes.as_deref(), Some("read:x"));
    }
}
