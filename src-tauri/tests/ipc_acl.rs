//! The IPC boundary on Tauri's mock runtime (no GUI): the real capabilities of the app (the
//! chrome's file and the per-MFE runtime capabilities the Portico plugin adds), the plugin's real
//! commands and a real broker. What a webview may call, and for which audience, is decided by
//! the webview it is and its capabilities' scope, never by what the message says.

use std::sync::Arc;

use portico_broker::{
    Audience, Broker, BrokerOptions, Dialect, MemoryStore, ScopeSet, SystemClock,
};
use portico_shell_core::ShellConfig;
use portico_testkit::figures::record;
use portico_testkit::provider as fixture;
use serde_json::{json, Value};
use tauri::ipc::{CallbackFn, InvokeBody};
use tauri::test::{get_ipc_response, mock_builder, INVOKE_KEY};
use tauri::webview::InvokeRequest;
use tauri::{Manager, WebviewUrl, WebviewWindowBuilder};
use tauri_plugin_portico::{Portico, ProviderView};

const BILLING: &str = "https://api.portico.dev/billing";
const ANALYTICS: &str = "https://api.portico.dev/analytics";
const BILLING_ORIGIN: &str = "http://127.0.0.1:4001";
const ANALYTICS_ORIGIN: &str = "http://127.0.0.1:4003";

fn portico() -> Portico {
    let section = json!({ "mfes": [
        {"id": "billing", "title": "Billing", "source": {"url": format!("{BILLING_ORIGIN}/")},
         "audiences": [BILLING], "scopes": ["read:invoices"]},
        {"id": "analytics", "title": "Analytics", "source": {"url": format!("{ANALYTICS_ORIGIN}/")},
         "audiences": [ANALYTICS], "scopes": ["read:reports"]}
    ]});
    let config = ShellConfig::load(&section, &|_| None, &["dev.portico.app".into()]).unwrap();
    // A provider on a closed loopback port: nothing in these tests may reach it, and a call
    // that got past the checks fails with a typed error instead of hanging.
    let billing = Audience::parse(BILLING).unwrap();
    let provider = fixture::dev_idp(
        &url::Url::parse("http://127.0.0.1:9/").unwrap(),
        Dialect::Auth0,
    )
    .unwrap()
    .audiences([billing.clone(), Audience::parse(ANALYTICS).unwrap()])
    .default_audience(billing)
    .scopes(ScopeSet::parse("openid offline_access").unwrap())
    .build()
    .unwrap();
    let broker = Broker::new(
        provider,
        BrokerOptions::default(),
        Arc::new(MemoryStore::new()),
        Arc::new(SystemClock),
    )
    .unwrap();
    let view = ProviderView {
        issuer: "http://127.0.0.1:9/".into(),
        dialect: Dialect::Auth0,
        embedded: false,
    };
    Portico::new(config, broker, view)
}

struct App {
    app: tauri::App<tauri::test::MockRuntime>,
}

impl App {
    fn new() -> App {
        let app = portico_shell::with_host(
            mock_builder(),
            tauri_plugin_portico::Builder::with_portico(portico()),
        )
        .build(tauri::generate_context!("../tauri.conf.json", test = true))
        .expect("mock app builds");
        App { app }
    }

    fn webview(&self, label: &str, url: &str) -> tauri::WebviewWindow<tauri::test::MockRuntime> {
        WebviewWindowBuilder::new(&self.app, label, WebviewUrl::External(url.parse().unwrap()))
            .build()
            .unwrap()
    }
}

/// Invoke `cmd` from `webview`, with the request coming from the frame at `frame_url`.
fn invoke(
    webview: &tauri::WebviewWindow<tauri::test::MockRuntime>,
    frame_url: &str,
    cmd: &str,
    args: Value,
) -> Result<Value, Value> {
    let response = get_ipc_response(
        webview,
        InvokeRequest {
            cmd: cmd.into(),
            callback: CallbackFn(0),
            error: CallbackFn(1),
            url: frame_url.parse().unwrap(),
            body: InvokeBody::Json(args),
            headers: Default::default(),
            invoke_key: INVOKE_KEY.to_string(),
        },
    );
    response.map(|body| body.deserialize::<Value>().unwrap_or(Value::Null))
}

fn is_acl_refusal(err: &Value) -> bool {
    // Tauri's ACL answers with a plain string naming the command and why it is not allowed.
    err.as_str().is_some_and(|s| s.contains("not allowed"))
}

#[test]
fn billing_webview_is_refused_the_analytics_audience_with_a_typed_error() {
    let app = App::new();
    let billing = app.webview("mfe-billing", &format!("{BILLING_ORIGIN}/"));
    let err = invoke(
        &billing,
        &format!("{BILLING_ORIGIN}/"),
        "plugin:portico|get_token",
        json!({ "audience": ANALYTICS }),
    )
    .unwrap_err();
    assert_eq!(err["kind"], "forbidden_audience", "{err}");
    assert_eq!(err["audience"], ANALYTICS);
    assert_eq!(err["retryable"], false);
}

#[test]
fn billing_webview_reaches_the_broker_for_its_own_audience() {
    let app = App::new();
    let billing = app.webview("mfe-billing", &format!("{BILLING_ORIGIN}/"));
    // Past the ACL and the registry: the broker answers (nobody is signed in).
    let err = invoke(
        &billing,
        &format!("{BILLING_ORIGIN}/"),
        "plugin:portico|get_token",
        json!({ "audience": BILLING }),
    )
    .unwrap_err();
    assert_eq!(err["kind"], "login_required", "{err}");
    let ctx = invoke(
        &billing,
        &format!("{BILLING_ORIGIN}/"),
        "plugin:portico|mfe_context",
        json!({}),
    )
    .unwrap();
    assert_eq!(ctx["id"], "billing");
    assert_eq!(ctx["audiences"], json!([BILLING]));
}

#[test]
fn scopes_beyond_the_registration_are_refused() {
    let app = App::new();
    let billing = app.webview("mfe-billing", &format!("{BILLING_ORIGIN}/"));
    let err = invoke(
        &billing,
        &format!("{BILLING_ORIGIN}/"),
        "plugin:portico|get_token",
        json!({ "audience": BILLING, "scopes": "read:invoices write:invoices" }),
    )
    .unwrap_err();
    assert_eq!(err["kind"], "invalid_scope", "{err}");
}

#[test]
fn malformed_arguments_get_errors_not_panics() {
    let app = App::new();
    let billing = app.webview("mfe-billing", &format!("{BILLING_ORIGIN}/"));
    let url = format!("{BILLING_ORIGIN}/");
    for args in [
        json!({}),
        json!({ "audience": 42 }),
        json!({ "audience": "" }),
        json!({ "audience": "not a uri" }),
        json!({ "audience": "x".repeat(10_000) }),
        json!({ "audience": BILLING, "scopes": ["array"] }),
    ] {
        let err = invoke(&billing, &url, "plugin:portico|get_token", args.clone()).unwrap_err();
        assert!(err["kind"].is_string(), "{args}: {err}");
    }
    let err = invoke(
        &billing,
        &url,
        "plugin:portico|get_token",
        json!({ "audience": "" }),
    )
    .unwrap_err();
    assert_eq!(err["kind"], "invalid_audience");
}

#[test]
fn an_unknown_webview_is_refused_by_the_acl() {
    let app = App::new();
    let intruder = app.webview("intruder", &format!("{BILLING_ORIGIN}/"));
    let err = invoke(
        &intruder,
        &format!("{BILLING_ORIGIN}/"),
        "plugin:portico|get_token",
        json!({ "audience": BILLING }),
    )
    .unwrap_err();
    assert!(is_acl_refusal(&err), "{err}");
}

#[test]
fn a_remote_origin_outside_the_capability_is_refused() {
    let app = App::new();
    let billing = app.webview("mfe-billing", &format!("{BILLING_ORIGIN}/"));
    // The billing webview, but the calling frame is from another origin (an iframe, or a
    // navigation that escaped): the capability is bound to the origin, so the ACL refuses.
    let err = invoke(
        &billing,
        "http://127.0.0.1:9999/",
        "plugin:portico|get_token",
        json!({ "audience": BILLING }),
    )
    .unwrap_err();
    assert!(is_acl_refusal(&err), "{err}");
    let err = invoke(
        &billing,
        "https://evil.example.com/",
        "plugin:portico|mfe_context",
        json!({}),
    )
    .unwrap_err();
    assert!(is_acl_refusal(&err), "{err}");
}

#[test]
fn an_mfe_cannot_listen_to_or_emit_the_deep_link_event() {
    let app = App::new();
    let billing = app.webview("mfe-billing", &format!("{BILLING_ORIGIN}/"));
    let url = format!("{BILLING_ORIGIN}/");
    let err = invoke(
        &billing,
        &url,
        "plugin:event|listen",
        json!({ "event": "deep-link://new-url", "target": { "kind": "Any" }, "handler": 7 }),
    )
    .unwrap_err();
    assert!(is_acl_refusal(&err), "{err}");
    let err = invoke(
        &billing,
        &url,
        "plugin:event|emit",
        json!({ "event": "deep-link://new-url", "payload": ["dev.portico.app:/callback?code=x&state=y"] }),
    )
    .unwrap_err();
    assert!(is_acl_refusal(&err), "{err}");
    let err = invoke(&billing, &url, "plugin:deep-link|get_current", json!({})).unwrap_err();
    assert!(is_acl_refusal(&err), "{err}");
}

#[test]
fn an_mfe_cannot_drive_the_session_and_the_chrome_cannot_take_tokens() {
    let app = App::new();
    let billing = app.webview("mfe-billing", &format!("{BILLING_ORIGIN}/"));
    for cmd in [
        "plugin:portico|host_sign_out",
        "plugin:portico|host_state",
        "plugin:portico|host_token_status",
        "plugin:portico|host_sign_in",
    ] {
        let err = invoke(&billing, &format!("{BILLING_ORIGIN}/"), cmd, json!({})).unwrap_err();
        assert!(is_acl_refusal(&err), "{cmd}: {err}");
    }
    let chrome = app.webview("chrome", "tauri://localhost/shell/index.html");
    let err = invoke(
        &chrome,
        "tauri://localhost/shell/index.html",
        "plugin:portico|get_token",
        json!({ "audience": BILLING }),
    )
    .unwrap_err();
    assert!(is_acl_refusal(&err), "{err}");
    // The chrome's own commands work for the chrome.
    let state = invoke(
        &chrome,
        "tauri://localhost/shell/index.html",
        "plugin:portico|host_state",
        json!({}),
    )
    .unwrap();
    assert_eq!(state["mfes"].as_array().map(Vec::len), Some(2));
    assert_eq!(state["login"], "idle");
}

/// One figure for `cargo xtask reliability` (when `PORTICO_FIGURES` names a file).
fn figure(case: &str, expected: &str, outcome: &str) {
    record("ipc_input", case, expected, outcome, json!({}));
}

fn kind(result: &Result<Value, Value>) -> String {
    match result {
        Ok(_) => "ok".into(),
        Err(e) => e["kind"]
            .as_str()
            .map(str::to_owned)
            .unwrap_or_else(|| "tauri_args_rejected".into()),
    }
}

#[test]
fn audience_input_gets_typed_errors_before_any_lookup() {
    let app = App::new();
    let billing = app.webview("mfe-billing", &format!("{BILLING_ORIGIN}/"));
    let url = format!("{BILLING_ORIGIN}/");
    let long_uri = format!("https://api.portico.dev/{}", "a".repeat(600));
    let cases: Vec<(&str, Value, &str)> = vec![
        ("empty audience", json!(""), "invalid_audience"),
        (
            "overlong audience (10 000 chars)",
            json!("x".repeat(10_000)),
            "invalid_audience",
        ),
        (
            "overlong URI (600+ chars)",
            json!(long_uri),
            "invalid_audience",
        ),
        ("not a URI", json!("not a uri"), "invalid_audience"),
        (
            "relative reference",
            json!("api/billing"),
            "invalid_audience",
        ),
        (
            "URI with fragment",
            json!(format!("{BILLING}#x")),
            "invalid_audience",
        ),
        (
            "URI with newline",
            json!(format!("{BILLING}\n")),
            "invalid_audience",
        ),
        (
            "URI with NUL",
            json!(format!("{BILLING}\u{0}")),
            "invalid_audience",
        ),
        (
            "registered audience plus trailing slash",
            json!(format!("{BILLING}/")),
            "forbidden_audience",
        ),
        (
            "registered audience in upper case",
            json!(BILLING.to_uppercase()),
            "forbidden_audience",
        ),
        (
            "another MFE's audience",
            json!(ANALYTICS),
            "forbidden_audience",
        ),
    ];
    for (case, audience, expected) in cases {
        let r = invoke(
            &billing,
            &url,
            "plugin:portico|get_token",
            json!({ "audience": audience }),
        );
        figure(case, expected, &kind(&r));
        let err = r.unwrap_err();
        assert_eq!(err["kind"], expected, "{case}: {err}");
        assert_eq!(err["retryable"], false, "{case}");
        assert!(err["message"].is_string(), "{case}");
        // Our message, bounded: the caller's 10 kB input is not echoed back.
        assert!(err.to_string().len() < 1024, "{case}: {err}");
    }
}

#[test]
fn unknown_fields_cannot_change_who_is_calling() {
    let app = App::new();
    let billing = app.webview("mfe-billing", &format!("{BILLING_ORIGIN}/"));
    let url = format!("{BILLING_ORIGIN}/");
    let spoof = json!({ "webview": "mfe-analytics", "label": "chrome", "mfe": "analytics",
                        "origin": ANALYTICS_ORIGIN, "caller": "analytics", "__proto__": {"x": 1} });
    // The identity fields are ignored: still billing, so analytics stays forbidden ...
    let mut args = spoof.clone();
    args["audience"] = json!(ANALYTICS);
    let r = invoke(&billing, &url, "plugin:portico|get_token", args);
    figure(
        "unknown fields claiming another MFE",
        "forbidden_audience",
        &kind(&r),
    );
    assert_eq!(r.unwrap_err()["kind"], "forbidden_audience");
    // ... and its own audience goes through to the broker as before (nobody signed in).
    let mut args = spoof;
    args["audience"] = json!(BILLING);
    let r = invoke(&billing, &url, "plugin:portico|get_token", args);
    figure(
        "unknown fields with its own audience",
        "login_required",
        &kind(&r),
    );
    assert_eq!(r.unwrap_err()["kind"], "login_required");
}

#[test]
fn wrong_types_get_typed_errors_naming_the_argument() {
    let app = App::new();
    let billing = app.webview("mfe-billing", &format!("{BILLING_ORIGIN}/"));
    let url = format!("{BILLING_ORIGIN}/");
    for (case, args, expected) in [
        ("audience missing", json!({}), "invalid_audience"),
        (
            "audience null",
            json!({ "audience": null }),
            "invalid_audience",
        ),
        (
            "audience number",
            json!({ "audience": 42 }),
            "invalid_audience",
        ),
        (
            "audience bool",
            json!({ "audience": true }),
            "invalid_audience",
        ),
        (
            "audience array",
            json!({ "audience": [BILLING] }),
            "invalid_audience",
        ),
        (
            "audience object",
            json!({ "audience": { "uri": BILLING } }),
            "invalid_audience",
        ),
        (
            "scopes number",
            json!({ "audience": BILLING, "scopes": 5 }),
            "invalid_scope",
        ),
        (
            "scopes array",
            json!({ "audience": BILLING, "scopes": ["read:invoices"] }),
            "invalid_scope",
        ),
        (
            "scopes object",
            json!({ "audience": BILLING, "scopes": { "read": true } }),
            "invalid_scope",
        ),
    ] {
        let r = invoke(&billing, &url, "plugin:portico|get_token", args.clone());
        figure(&format!("wrong type: {case}"), expected, &kind(&r));
        let err = r.unwrap_err();
        assert_eq!(err["kind"], expected, "{case}: {err}");
        let reason = err["reason"].as_str().unwrap_or_default();
        assert!(
            reason.contains("audience") || reason.contains("scopes"),
            "{case}: the reason names the argument: {err}"
        );
    }
    // A payload that is not an object has no `audience` key at all.
    let r = invoke(&billing, &url, "plugin:portico|get_token", json!([BILLING]));
    figure(
        "wrong type: arguments not an object",
        "invalid_audience",
        &kind(&r),
    );
    assert_eq!(r.unwrap_err()["kind"], "invalid_audience");
    // Scopes of the wrong shape inside a string are ours to refuse, typed.
    let r = invoke(
        &billing,
        &url,
        "plugin:portico|get_token",
        json!({ "audience": BILLING, "scopes": "read:invoices\"" }),
    );
    figure("scope with a quote", "invalid_scope", &kind(&r));
    assert_eq!(r.unwrap_err()["kind"], "invalid_scope");
}

#[test]
fn unregistered_webviews_are_refused_for_every_mfe_command() {
    let app = App::new();
    for (label, url) in [
        ("intruder", format!("{BILLING_ORIGIN}/")),
        ("mfe-unknown", format!("{BILLING_ORIGIN}/")),
        ("mfe-billing-2", format!("{BILLING_ORIGIN}/")),
    ] {
        let w = app.webview(label, &url);
        for (cmd, args) in [
            ("plugin:portico|get_token", json!({ "audience": BILLING })),
            ("plugin:portico|mfe_context", json!({})),
        ] {
            let r = invoke(&w, &url, cmd, args);
            let outcome = match &r {
                Err(e) if is_acl_refusal(e) => "acl_refused".to_string(),
                other => kind(other),
            };
            figure(
                &format!("unregistered webview `{label}` calls {cmd}"),
                "acl_refused",
                &outcome,
            );
            // Refused by the capability (no capability names this label), or typed by the policy.
            assert!(
                outcome == "acl_refused" || outcome == "not_permitted",
                "{label} {cmd}: {r:?}"
            );
        }
    }
}

/// A capability the host adds (as it would in `src-tauri/capabilities/*.json`) for the billing
/// webview at its origin, with `portico:allow-get-token` scoped by `scope`.
fn host_capability(app: &App, identifier: &str, scope: Value) {
    let mut permission = json!({ "identifier": "portico:allow-get-token" });
    if let (Some(p), Some(s)) = (permission.as_object_mut(), scope.as_object()) {
        p.extend(s.clone());
    }
    let capability = json!({
        "identifier": identifier,
        "webviews": ["mfe-billing"],
        "local": false,
        "remote": { "urls": [format!("{BILLING_ORIGIN}/*")] },
        "permissions": [permission],
    });
    app.app
        .handle()
        .add_capability(capability.to_string().as_str())
        .expect("the host's capability is valid");
}

#[test]
fn an_audience_outside_the_webviews_scope_is_refused_before_the_broker() {
    let app = App::new();
    let analytics = app.webview("mfe-analytics", &format!("{ANALYTICS_ORIGIN}/"));
    let url = format!("{ANALYTICS_ORIGIN}/");
    // Its own audience is in its scope: on to the broker (nobody is signed in).
    let err = invoke(
        &analytics,
        &url,
        "plugin:portico|get_token",
        json!({ "audience": ANALYTICS }),
    )
    .unwrap_err();
    assert_eq!(err["kind"], "login_required", "{err}");
    // Billing's is not: refused by the scope, typed, without reaching the broker.
    let err = invoke(
        &analytics,
        &url,
        "plugin:portico|get_token",
        json!({ "audience": BILLING }),
    )
    .unwrap_err();
    assert_eq!(err["kind"], "forbidden_audience", "{err}");
    assert_eq!(err["audience"], BILLING);
}

#[test]
fn a_deny_entry_in_a_host_capability_wins_over_the_registration() {
    let app = App::new();
    let billing = app.webview("mfe-billing", &format!("{BILLING_ORIGIN}/"));
    // Registered for it: on to the broker (nobody is signed in) ...
    let err = invoke(
        &billing,
        &format!("{BILLING_ORIGIN}/"),
        "plugin:portico|get_token",
        json!({ "audience": BILLING }),
    )
    .unwrap_err();
    assert_eq!(err["kind"], "login_required", "{err}");
    // ... until the host denies it.
    host_capability(
        &app,
        "host-denies-billing",
        json!({ "deny": [{ "audience": BILLING }] }),
    );
    let err = invoke(
        &billing,
        &format!("{BILLING_ORIGIN}/"),
        "plugin:portico|get_token",
        json!({ "audience": BILLING }),
    )
    .unwrap_err();
    assert_eq!(err["kind"], "forbidden_audience", "{err}");
    // The rest of the MFE's permissions are untouched.
    let ctx = invoke(
        &billing,
        &format!("{BILLING_ORIGIN}/"),
        "plugin:portico|mfe_context",
        json!({}),
    )
    .unwrap();
    assert_eq!(ctx["id"], "billing");
}

#[test]
fn a_host_capability_can_allow_another_audience_and_deny_still_wins() {
    let app = App::new();
    host_capability(
        &app,
        "host-allows-analytics",
        json!({ "allow": [{ "audience": ANALYTICS }] }),
    );
    let billing = app.webview("mfe-billing", &format!("{BILLING_ORIGIN}/"));
    let url = format!("{BILLING_ORIGIN}/");
    // Allowed by the host: past the scope, on to the broker (nobody is signed in).
    let err = invoke(
        &billing,
        &url,
        "plugin:portico|get_token",
        json!({ "audience": ANALYTICS }),
    )
    .unwrap_err();
    assert_eq!(err["kind"], "login_required", "{err}");
    // A deny in another capability for the same webview wins over both allows.
    host_capability(
        &app,
        "host-denies-analytics",
        json!({ "deny": [{ "audience": ANALYTICS }] }),
    );
    let err = invoke(
        &billing,
        &url,
        "plugin:portico|get_token",
        json!({ "audience": ANALYTICS }),
    )
    .unwrap_err();
    assert_eq!(err["kind"], "forbidden_audience", "{err}");
}

#[test]
fn host_ui_commands_are_refused_to_an_mfe_even_if_a_capability_grants_them() {
    let app = App::new();
    let capability = json!({
        "identifier": "misconfigured",
        "webviews": ["mfe-billing"],
        "local": false,
        "remote": { "urls": [format!("{BILLING_ORIGIN}/*")] },
        "permissions": ["portico:host-ui"],
    });
    app.app
        .handle()
        .add_capability(capability.to_string().as_str())
        .unwrap();
    let billing = app.webview("mfe-billing", &format!("{BILLING_ORIGIN}/"));
    for cmd in ["plugin:portico|host_state", "plugin:portico|host_sign_out"] {
        let err = invoke(&billing, &format!("{BILLING_ORIGIN}/"), cmd, json!({})).unwrap_err();
        assert_eq!(err["kind"], "not_permitted", "{cmd}: {err}");
    }
}

#[test]
fn the_chrome_drives_the_layout_and_mfes_cannot() {
    let app = App::new();
    let billing = app.webview("mfe-billing", &format!("{BILLING_ORIGIN}/"));
    for (cmd, args) in [
        ("shell_select_mfe", json!({ "id": "analytics" })),
        ("shell_set_chrome_expanded", json!({ "expanded": true })),
    ] {
        let err = invoke(&billing, &format!("{BILLING_ORIGIN}/"), cmd, args).unwrap_err();
        assert!(is_acl_refusal(&err), "{cmd}: {err}");
    }
    let chrome = app.webview("chrome", "tauri://localhost/shell/index.html");
    let err = invoke(
        &chrome,
        "tauri://localhost/shell/index.html",
        "shell_select_mfe",
        json!({ "id": "nope" }),
    )
    .unwrap_err();
    assert_eq!(err["kind"], "config_invalid", "{err}");
}
