//! Tokens through the plugin's IPC, signed in against a real provider (the development provider
//! on loopback) on Tauri's mock runtime: two MFEs registered for one audience with different
//! scopes — a writer and a reader — each get a token within their own registration, from the
//! command and from the cache fast path, and the reader never the writer's.

use std::sync::Arc;

use portico_broker::{Broker, BrokerOptions, Dialect, MemoryStore, ScopeSet, SystemClock};
use portico_dev_idp::{DevIdp, IdpConfig, BILLING_API};
use portico_shell_core::ShellConfig;
use serde_json::{json, Value};
use tauri::ipc::{CallbackFn, InvokeBody};
use tauri::test::{get_ipc_response, mock_builder, INVOKE_KEY};
use tauri::webview::InvokeRequest;
use tauri::{WebviewUrl, WebviewWindowBuilder};
use tauri_plugin_portico::{Portico, ProviderView};

const WRITER_ORIGIN: &str = "http://127.0.0.1:4001";
const READER_ORIGIN: &str = "http://127.0.0.1:4002";

type Webview = tauri::WebviewWindow<tauri::test::MockRuntime>;

fn invoke(webview: &Webview, origin: &str, cmd: &str, args: Value) -> Result<Value, Value> {
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
    .map(|body| body.deserialize::<Value>().unwrap_or(Value::Null))
}

fn granted(grant: &Value) -> ScopeSet {
    ScopeSet::parse(grant["scope"].as_str().unwrap_or_default()).expect("granted scopes")
}

#[test]
fn a_reader_and_a_writer_of_one_audience_each_get_their_own_token() {
    let rt = tokio::runtime::Runtime::new().unwrap();
    let idp: DevIdp = rt
        .block_on(DevIdp::start(IdpConfig::portico_demo()))
        .expect("dev-idp starts");
    let provider = portico_testkit::provider::dev_idp(idp.issuer(), Dialect::Auth0)
        .and_then(|b| b.build())
        .unwrap();
    let broker = Broker::new(
        provider,
        BrokerOptions::default(),
        Arc::new(MemoryStore::new()),
        Arc::new(SystemClock),
    )
    .unwrap();
    // Alice (admin) signs in before the plugin starts: the session is there from the start.
    rt.block_on(async {
        let request = broker.begin_login(None).await.unwrap();
        let callback = portico_testkit::browser::sign_in(request.authorize_url.as_str(), "alice")
            .await
            .expect("browser sign-in");
        broker.complete_login(&callback).await.unwrap();
    });
    let section = json!({ "mfes": [
        {"id": "invoicing", "title": "Invoicing", "source": {"url": format!("{WRITER_ORIGIN}/")},
         "audiences": [BILLING_API], "scopes": ["read:invoices", "write:invoices"]},
        {"id": "reports", "title": "Reports", "source": {"url": format!("{READER_ORIGIN}/")},
         "audiences": [BILLING_API], "scopes": ["read:invoices"]}
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
    let writer = webview("mfe-invoicing", WRITER_ORIGIN);
    let reader = webview("mfe-reports", READER_ORIGIN);
    let get = |w: &Webview, origin: &str| {
        invoke(
            w,
            origin,
            "plugin:portico|get_token",
            json!({ "audience": BILLING_API }),
        )
    };

    // The writer first: its token carries write:invoices and is cached.
    let wide = get(&writer, WRITER_ORIGIN).expect("writer's token");
    assert!(granted(&wide).contains("write:invoices"), "{wide}");
    // The reader: a token of its own, never the cached wider one.
    let narrow = get(&reader, READER_ORIGIN).expect("reader's token");
    assert!(!granted(&narrow).contains("write:invoices"), "{narrow}");
    assert_ne!(narrow["accessToken"], wide["accessToken"]);
    // Again, now answered from the cache (the fast path): each its own.
    assert_eq!(
        get(&reader, READER_ORIGIN).unwrap()["accessToken"],
        narrow["accessToken"]
    );
    assert_eq!(
        get(&writer, WRITER_ORIGIN).unwrap()["accessToken"],
        wide["accessToken"]
    );
    // Asking for more than its registration is refused, typed.
    let err = invoke(
        &reader,
        READER_ORIGIN,
        "plugin:portico|get_token",
        json!({ "audience": BILLING_API, "scopes": "write:invoices" }),
    )
    .unwrap_err();
    assert_eq!(err["kind"], "invalid_scope", "{err}");
    drop(app);
    drop(idp);
}
