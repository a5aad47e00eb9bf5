//! The native fetch through the plugin's IPC on Tauri's mock runtime, signed in against the
//! development provider on loopback with DPoP on, and its demo APIs over real HTTP: a
//! fetch-only MFE reads its API through the shell and is never handed a token (neither by
//! `get_token` nor by the cache fast path), its requests stay within its own APIs, and a page
//! MFE next to it keeps both `get_token` and `fetch`.

use std::sync::Arc;

use portico_broker::{Broker, BrokerOptions, Dialect, MemoryStore, Mode, SystemClock};
use portico_dev_idp::{DemoApis, DevIdp, IdpConfig, ANALYTICS_API, BILLING_API};
use portico_shell_core::ShellConfig;
use serde_json::{json, Value};
use tauri::ipc::{CallbackFn, InvokeBody, InvokeResponseBody};
use tauri::test::{get_ipc_response, mock_builder, INVOKE_KEY};
use tauri::webview::InvokeRequest;
use tauri::{WebviewUrl, WebviewWindowBuilder};
use tauri_plugin_portico::{Portico, ProviderView};

const BILLING_ORIGIN: &str = "http://127.0.0.1:4001";
const ANALYTICS_ORIGIN: &str = "http://127.0.0.1:4003";

type Webview = tauri::WebviewWindow<tauri::test::MockRuntime>;

fn invoke_raw(
    webview: &Webview,
    origin: &str,
    cmd: &str,
    args: Value,
) -> Result<InvokeResponseBody, Value> {
    get_ipc_response(
        webview,
        InvokeRequest {
            cmd: cmd.into(),
            callback: CallbackFn(0),
            error: CallbackFn(1),
            url: format!("{origin}/").parse().expect("origin"),
            body: InvokeBody::Json(args),
            headers: Default::default(),
            invoke_key: INVOKE_KEY.to_string(),
        },
    )
}

fn invoke(webview: &Webview, origin: &str, cmd: &str, args: Value) -> Result<Value, Value> {
    invoke_raw(webview, origin, cmd, args)
        .map(|body| body.deserialize::<Value>().unwrap_or(Value::Null))
}

/// A fetch's answer, unframed: the head and the body.
fn fetch(webview: &Webview, origin: &str, request: Value) -> Result<(Value, Vec<u8>), Value> {
    let body = invoke_raw(
        webview,
        origin,
        "plugin:portico|fetch",
        json!({ "request": request }),
    )?;
    let InvokeResponseBody::Raw(bytes) = body else {
        panic!("fetch answers with raw bytes, got {body:?}");
    };
    let len = u32::from_be_bytes(bytes[..4].try_into().unwrap()) as usize;
    let head: Value = serde_json::from_slice(&bytes[4..4 + len]).expect("the head is JSON");
    Ok((head, bytes[4 + len..].to_vec()))
}

/// Something shaped like a JWT anywhere in `text` (a bound token's `jkt` is base64url too, so
/// three letters alone would be a false alarm once in thousands of runs).
fn holds_a_jwt(text: &str) -> bool {
    portico_types::secret::contains_jwt(text)
}

#[test]
fn a_fetch_only_mfe_reads_its_api_through_the_shell_and_never_holds_a_token() {
    let rt = tokio::runtime::Runtime::new().unwrap();
    let mut idp_config = IdpConfig::portico_demo();
    // As in the embedded default: only the Analytics API binds its tokens to the DPoP key.
    for api in &mut idp_config.apis {
        api.sender_constrained = api.identifier == ANALYTICS_API;
    }
    let apis_config = idp_config.apis.clone();
    let (idp, apis) = rt.block_on(async {
        let idp = DevIdp::start(idp_config).await.expect("dev-idp starts");
        let apis = DemoApis::start(idp.issuer(), &apis_config)
            .await
            .expect("demo APIs start");
        (idp, apis)
    });
    let provider = portico_testkit::provider::dev_idp(idp.issuer(), Dialect::Auth0)
        .map(|b| b.dpop(Mode::On))
        .and_then(|b| b.build())
        .unwrap();
    let broker = Broker::new(
        provider,
        BrokerOptions::default(),
        Arc::new(MemoryStore::new()),
        Arc::new(SystemClock),
    )
    .unwrap();
    rt.block_on(async {
        let request = broker.begin_login(None).await.unwrap();
        let callback = portico_testkit::browser::sign_in(request.authorize_url.as_str(), "alice")
            .await
            .expect("browser sign-in");
        broker.complete_login(&callback).await.unwrap();
    });
    let analytics_api = apis.url_for(ANALYTICS_API).unwrap();
    let billing_api = apis.url_for(BILLING_API).unwrap();
    let section = json!({ "mfes": [
        {"id": "billing", "title": "Billing", "source": {"url": format!("{BILLING_ORIGIN}/")},
         "audiences": [BILLING_API], "scopes": ["read:invoices"],
         "apis": [{"baseUrl": billing_api.as_str(), "audience": BILLING_API}]},
        {"id": "analytics", "title": "Analytics", "source": {"url": format!("{ANALYTICS_ORIGIN}/")},
         "audiences": [ANALYTICS_API], "scopes": ["read:reports"], "tokenExposure": "fetch-only",
         "apis": [{"baseUrl": analytics_api.as_str(), "audience": ANALYTICS_API}]}
    ]});
    let config = ShellConfig::load(&section, &|_| None, &["dev.portico.app".into()]).unwrap();
    let view = ProviderView {
        issuer: idp.issuer().to_string(),
        dialect: Dialect::Auth0,
        embedded: false,
    };
    let app = portico_shell::with_host(
        mock_builder(),
        tauri_plugin_portico::Builder::with_portico(Portico::new(config, broker, view)),
    )
    .build(tauri::generate_context!("../tauri.conf.json", test = true))
    .expect("mock app builds");
    let webview = |label: &str, origin: &str| {
        WebviewWindowBuilder::new(
            &app,
            label,
            WebviewUrl::External(format!("{origin}/").parse().unwrap()),
        )
        .build()
        .unwrap()
    };
    let billing = webview("mfe-billing", BILLING_ORIGIN);
    let analytics = webview("mfe-analytics", ANALYTICS_ORIGIN);

    // Its registration says what it is.
    let ctx = invoke(
        &analytics,
        ANALYTICS_ORIGIN,
        "plugin:portico|mfe_context",
        json!({}),
    )
    .expect("context");
    assert_eq!(ctx["tokenExposure"], "fetch-only", "{ctx}");
    assert_eq!(ctx["apis"][0]["audience"], ANALYTICS_API, "{ctx}");

    // The data, through the shell: the API accepted a DPoP-bound token for its audience.
    let data = analytics_api.join("data").unwrap();
    let (head, body) = fetch(
        &analytics,
        ANALYTICS_ORIGIN,
        json!({ "url": data.as_str() }),
    )
    .expect("analytics reads its API");
    assert_eq!(head["status"], 200, "{head}");
    let text = String::from_utf8(body).unwrap();
    let answer: Value = serde_json::from_str(&text).unwrap();
    assert_eq!(answer["audience"], ANALYTICS_API, "{text}");
    assert!(
        !holds_a_jwt(&text),
        "the answer the page sees carries no token: {text}"
    );
    assert!(
        !holds_a_jwt(&head.to_string()),
        "nor do its headers: {head}"
    );

    // No token for the page: from the command, and from the cache fast path now that the shell
    // holds one for this audience.
    for _ in 0..2 {
        let err = invoke(
            &analytics,
            ANALYTICS_ORIGIN,
            "plugin:portico|get_token",
            json!({ "audience": ANALYTICS_API }),
        )
        .unwrap_err();
        assert_eq!(err["kind"], "token_not_exposed", "{err}");
        assert!(!holds_a_jwt(&err.to_string()), "{err}");
    }

    // Only under its own APIs: not another team's (another port on loopback), not a look-alike
    // origin, no user name (the URL rules in full: crates/broker/tests/adversarial_fetch.rs).
    let port = analytics_api.port().unwrap();
    for url in [
        billing_api.join("data").unwrap().to_string(),
        "https://api.portico.dev.evil.test/data".to_string(),
        format!("http://user@127.0.0.1:{port}/data"),
    ] {
        let err = fetch(&analytics, ANALYTICS_ORIGIN, json!({ "url": url })).unwrap_err();
        assert_eq!(err["kind"], "fetch_refused", "{url}: {err}");
    }
    // A page's own Authorization header is refused, not forwarded.
    let err = fetch(
        &analytics,
        ANALYTICS_ORIGIN,
        json!({ "url": data.as_str(), "headers": [["Authorization", "Bearer stolen"]] }),
    )
    .unwrap_err();
    assert_eq!(err["reason"], "forbidden_header", "{err}");
    // A request that is not the Fetch API's shape is a typed refusal naming what is wrong.
    let err = invoke(
        &analytics,
        ANALYTICS_ORIGIN,
        "plugin:portico|fetch",
        json!({ "request": { "url": 7 } }),
    )
    .unwrap_err();
    assert_eq!(err["reason"], "invalid_request", "{err}");
    // Aborting an id this page never used does nothing.
    let aborted = invoke(
        &analytics,
        ANALYTICS_ORIGIN,
        "plugin:portico|fetch_abort",
        json!({ "abortId": "nope" }),
    )
    .unwrap();
    assert_eq!(aborted, json!(false));

    // Billing (tokens in its page) keeps both: its Bearer token and the native fetch.
    let grant = invoke(
        &billing,
        BILLING_ORIGIN,
        "plugin:portico|get_token",
        json!({ "audience": BILLING_API }),
    )
    .expect("billing's token");
    assert_eq!(grant["tokenType"], "Bearer", "{grant}");
    let (head, _) = fetch(
        &billing,
        BILLING_ORIGIN,
        json!({ "url": billing_api.join("data").unwrap().as_str() }),
    )
    .expect("billing fetches too");
    assert_eq!(head["status"], 200, "{head}");
    drop(app);
    drop(apis);
    drop(idp);
}
