//! Every message that crosses the IPC boundary — command arguments and results, pushes on the
//! MFE and host channels, the session, an MFE's context, the host state, errors — as a Rust
//! type with its TypeScript declaration (ts-rs), checked in at [`TS_OUTPUT`] for the guest-js
//! package. Broker types (`TokenGrant`, `SessionInfo`, `AuthError`) come from the broker's own
//! declarations (`types.gen.ts`), imported by the generated file.

use portico_broker::{AuthError, Dialect, SessionInfo, TokenGrant};
use serde::{Deserialize, Serialize};
use ts_rs::TS;

/// One entry of `get_token`'s scope: an audience the calling webview may have tokens for.
///
/// The plugin gives each registered MFE webview one per registered audience (in the runtime
/// capability it adds); a host may add more in its own capability files, and deny entries win:
///
/// ```json
/// { "identifier": "portico:allow-get-token",
///   "allow": [{ "audience": "https://api.example.com/crm" }],
///   "deny": [{ "audience": "https://api.example.com/admin" }] }
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
#[serde(deny_unknown_fields)]
pub struct AudienceScope {
    /// The audience (API identifier) exactly as the provider knows it.
    pub audience: String,
}

/// `plugin:portico|get_token` arguments. Parsed by hand from the raw JSON so that a wrong type
/// gets a typed error naming the argument.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
pub struct GetTokenArgs {
    /// The URI of the API the token is for.
    pub audience: String,
    /// Space-separated scopes within the MFE's registration; omitted: all of them.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[ts(optional)]
    pub scopes: Option<String>,
    /// Step-up: the authentication context classes the sign-in must reach (OIDC `acr_values`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[ts(optional)]
    pub acr_values: Option<Vec<String>>,
    /// Step-up: the most seconds since the person last authenticated (OIDC `max_age`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[ts(optional, type = "number")]
    pub max_age: Option<u64>,
    /// Step-up: an OIDC claims request (a JSON object as a string; Entra's claims challenge).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[ts(optional)]
    pub claims: Option<String>,
}

/// `plugin:portico|fetch` argument `request`: the Fetch API's request as the client sends it.
/// Read from the raw JSON so that a wrong shape gets a typed `fetch_refused`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct FetchRequest {
    /// Absolute: the client resolves a relative URL against its page first.
    pub url: String,
    /// `GET` when omitted.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[ts(optional)]
    pub method: Option<String>,
    /// Name and value pairs, in order.
    #[serde(default)]
    pub headers: Vec<(String, String)>,
    /// The body's bytes in standard base64.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[ts(optional)]
    pub body: Option<String>,
    /// Chosen by the page, so that `fetch_abort` can cancel this request.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[ts(optional)]
    pub abort_id: Option<String>,
}

/// `plugin:portico|fetch_abort` arguments.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
#[serde(rename_all = "camelCase")]
pub struct FetchAbortArgs {
    pub abort_id: String,
}

/// The head of a native fetch's answer. `fetch` answers with raw bytes: this head's length as
/// a 4-byte big-endian number, the head as JSON, then the response body.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
#[serde(rename_all = "camelCase")]
pub struct FetchHead {
    pub status: u16,
    pub status_text: String,
    /// Lower-case names; `Set-Cookie` never reaches the page.
    pub headers: Vec<(String, String)>,
    /// Where the answer came from, after redirects within the API.
    pub url: String,
    pub redirected: bool,
}

/// `plugin:portico|mfe_subscribe` and `plugin:portico|host_subscribe` arguments: a Tauri
/// channel (`__CHANNEL__:<callback id>` on the wire).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
pub struct SubscribeArgs {
    pub channel: String,
}

/// `plugin:portico|mfe_context`: the calling MFE's own registration.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS)]
#[serde(rename_all = "camelCase")]
pub struct MfeContext {
    pub id: String,
    pub title: String,
    pub audiences: Vec<String>,
    /// Scopes this MFE is registered for (what `getToken` asks for by default).
    pub scopes: Vec<String>,
    /// Free-form per-MFE configuration from the registry, e.g. `{ "apiUrl": "..." }`.
    #[ts(type = "Record<string, unknown>")]
    pub settings: serde_json::Map<String, serde_json::Value>,
    /// The APIs `fetch` reaches for this MFE, each with the audience whose token it gets.
    pub apis: Vec<MfeApiView>,
    /// `fetch-only`: `getToken` is refused and no token is pushed; use `fetch`.
    pub token_exposure: TokenExposureView,
}

/// One API of an MFE as its page sees it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
#[serde(rename_all = "camelCase")]
pub struct MfeApiView {
    pub base_url: String,
    pub audience: String,
}

/// Whether the page is handed tokens.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, TS)]
#[serde(rename_all = "kebab-case")]
pub enum TokenExposureView {
    Page,
    FetchOnly,
}

/// Pushed to one MFE webview on its `mfe_subscribe` channel: only its own audiences, and a token
/// only when the MFE's scope ceiling admits it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS)]
#[serde(tag = "type", rename_all = "camelCase")]
pub enum MfePush {
    /// A token for one of the MFE's audiences was refreshed.
    TokenChanged { grant: TokenGrant },
    /// Signed in, restored, signed out (`null`) or another user.
    SessionChanged { session: Option<SessionInfo> },
    /// A background refresh for one of the MFE's audiences failed.
    RefreshFailed {
        audience: String,
        #[ts(type = "AuthError")]
        error: AuthError,
    },
}

/// Where the interactive sign-in stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, TS)]
#[serde(rename_all = "snake_case")]
pub enum LoginPhase {
    Idle,
    /// The browser is open on the provider; waiting for the callback.
    Pending,
    /// A callback passed the checks; exchanging the code.
    Completing,
}

/// The provider as the host UI shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
pub struct ProviderView {
    pub issuer: String,
    #[ts(type = "\"auth0\" | \"rfc8707\"")]
    pub dialect: Dialect,
    /// The embedded development provider.
    pub embedded: bool,
}

/// One registered MFE as the host UI lists it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
pub struct MfeSummary {
    pub id: String,
    pub title: String,
    pub audiences: Vec<String>,
}

/// `plugin:portico|host_state`: everything the host UI shows; no secrets.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS)]
#[serde(rename_all = "camelCase")]
#[ts(rename_all = "camelCase")]
pub struct HostState {
    pub session: Option<SessionInfo>,
    pub login: LoginPhase,
    pub mfes: Vec<MfeSummary>,
    /// The MFE the host shows (set by the host with `Portico::set_active_mfe`).
    pub active_mfe: Option<String>,
    pub provider: ProviderView,
    /// An additional sign-in an MFE asked for, waiting in the browser (cancel it with
    /// `host_cancel_sign_in`).
    pub step_up: Option<StepUpStatus>,
}

/// A step-up in progress, as the host UI shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
#[serde(rename_all = "camelCase")]
#[ts(rename_all = "camelCase")]
pub struct StepUpStatus {
    /// The MFE that asked (its id) and its title.
    pub mfe: String,
    pub mfe_title: String,
    pub audience: String,
    /// What the sign-in must reach (`acr_values`), in order of preference.
    pub acr_values: Vec<String>,
    /// How recent it must be, in seconds.
    #[ts(type = "number | null")]
    pub max_age: Option<u64>,
}

/// One row of `plugin:portico|host_token_status`: what the broker holds for an audience (no
/// token) and which MFEs use it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS)]
#[serde(rename_all = "camelCase")]
#[ts(rename_all = "camelCase")]
pub struct TokenStatus {
    pub audience: String,
    pub mfes: Vec<String>,
    pub scope: Option<String>,
    /// Unix ms.
    #[ts(type = "number | null")]
    pub expires_at: Option<u64>,
    /// Unix ms.
    #[ts(type = "number | null")]
    pub last_refresh: Option<u64>,
    #[ts(type = "AuthError | null")]
    pub last_error: Option<AuthError>,
}

/// Pushed to the host UI on its `host_subscribe` channel.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS)]
#[serde(tag = "type", rename_all = "camelCase")]
pub enum HostPush {
    State {
        state: Box<HostState>,
    },
    TokenStatus {
        status: Vec<TokenStatus>,
    },
    /// Something the user should read (kept until the host UI listens).
    Warning {
        message: String,
    },
    Error {
        #[ts(type = "AuthError")]
        error: AuthError,
    },
}

/// Where the TypeScript declarations live, relative to this crate: beside the broker's in the
/// plugin's guest-js package (`@portico/client`).
pub const TS_OUTPUT: &str = "../../ui/packages/portico-client/src/plugin.gen.ts";

/// The TypeScript declarations of every plugin IPC type, as checked in at [`TS_OUTPUT`].
pub fn typescript_declarations() -> String {
    let cfg = ts_rs::Config::new();
    let decls = [
        AudienceScope::decl(&cfg),
        GetTokenArgs::decl(&cfg),
        FetchRequest::decl(&cfg),
        FetchAbortArgs::decl(&cfg),
        FetchHead::decl(&cfg),
        SubscribeArgs::decl(&cfg),
        MfeContext::decl(&cfg),
        MfeApiView::decl(&cfg),
        TokenExposureView::decl(&cfg),
        MfePush::decl(&cfg),
        LoginPhase::decl(&cfg),
        ProviderView::decl(&cfg),
        MfeSummary::decl(&cfg),
        HostState::decl(&cfg),
        StepUpStatus::decl(&cfg),
        TokenStatus::decl(&cfg),
        HostPush::decl(&cfg),
    ];
    portico_types::ts::declarations_file(
        "// Generated by crates/tauri-plugin-portico (ts-rs). Do not edit: run\n\
         // `PORTICO_UPDATE_TS=1 cargo test -p tauri-plugin-portico --lib ts_declarations` to regenerate.\n\
         \n\
         import type { AuthError, SessionInfo, TokenGrant } from \"./types.gen.js\";\n",
        decls,
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::PathBuf;

    #[test]
    fn ts_declarations_are_current() {
        portico_types::ts::assert_current(
            &PathBuf::from(env!("CARGO_MANIFEST_DIR")).join(TS_OUTPUT),
            &typescript_declarations(),
            "cargo test -p tauri-plugin-portico --lib ts_declarations",
            std::env::var("PORTICO_UPDATE_TS").as_deref() == Ok("1"),
        );
    }

    /// The guest-js package speaks this plugin: every command it calls is one `build.rs`
    /// declares, and the file the host serves to MFEs is the built package.
    #[test]
    fn guest_js_calls_the_plugins_commands_and_is_what_the_host_serves() {
        let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..");
        let dist = std::fs::read_to_string(root.join("ui/packages/portico-client/dist/index.js"))
            .expect("guest-js is built");
        let served = std::fs::read_to_string(root.join("ui/web/_portico/client.js"))
            .expect("the served client");
        assert_eq!(
            dist, served,
            "ui/web/_portico/client.js is not dist/index.js"
        );
        let build =
            std::fs::read_to_string(PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("build.rs"))
                .expect("build.rs");
        let mut called = 0;
        for part in dist.split("\"plugin:portico|").skip(1) {
            let name: String = part.chars().take_while(|c| *c != '"').collect();
            assert!(
                build.contains(&format!("\"{name}\"")),
                "guest-js calls unknown `{name}`"
            );
            called += 1;
        }
        assert_eq!(called, 13, "every command has its name in guest-js");
    }

    #[test]
    fn pushes_are_tagged_like_their_declarations() {
        let push = MfePush::SessionChanged { session: None };
        assert_eq!(
            serde_json::to_value(&push).unwrap(),
            serde_json::json!({ "type": "sessionChanged", "session": null })
        );
        let push = HostPush::Warning {
            message: "m".into(),
        };
        assert_eq!(
            serde_json::to_value(&push).unwrap(),
            serde_json::json!({ "type": "warning", "message": "m" })
        );
        let d = typescript_declarations();
        assert!(d.contains("\"type\": \"tokenChanged\""), "{d}");
        assert!(d.contains("activeMfe: string | null"), "{d}");
        assert!(d.contains("\"type\": \"tokenStatus\""), "{d}");
    }

    #[test]
    fn scope_entries_are_audience_objects_only() {
        let e: AudienceScope =
            serde_json::from_value(serde_json::json!({ "audience": "https://a.example/" }))
                .unwrap();
        assert_eq!(e.audience, "https://a.example/");
        assert!(serde_json::from_value::<AudienceScope>(
            serde_json::json!({ "audience": "https://a.example/", "mfe": "x" })
        )
        .is_err());
    }
}
