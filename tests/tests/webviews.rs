//! MFE webviews on demand (issue 18.3): made when their tab is first shown, and freed once
//! hidden longer than their `unloadAfterSecs`.

use portico_testkit::e2e::prelude::*;
use serde_json::Value;
use url::Url;

/// Dashboard is registered with `unloadAfterSecs: 2`. After every MFE was shown once, the
/// hidden Dashboard's webview is freed while Billing's (no `unloadAfterSecs`) stays; showing
/// Dashboard's tab again makes a new webview whose page gets its token from the shell's cache,
/// without asking the provider.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_webview_hidden_longer_than_unload_after_is_freed_and_made_again_when_shown() {
    Scenario::builder("unload_after")
        .mfe_field("dashboard", "unloadAfterSecs", 2)
        .start()
        .await
        .expect("scenario setup")
        .run(async |s: &mut Scenario| {
            let app = s.launch().await?;
            app.chrome().click("sign-in").await?;
            // Looks at each MFE in turn (showing its tab): Analytics is shown last, so Dashboard
            // has been hidden since then.
            each_mfe_served_by_its_own_api(s, &app).await?;
            assert_eq!(s.mfe_ids(), ["billing", "dashboard", "analytics"]);
            wait::until(
                "the hidden Dashboard webview to be freed",
                wait::UI,
                async || {
                    let n = app.webview_count().await?;
                    Ok(if n == 3 {
                        Check::Ready(())
                    } else {
                        Check::NotYet(format!("{n} webviews"))
                    })
                },
            )
            .await?;
            // Billing's webview, hidden as long, is still there (its handle still answers).
            let billing = app.mfe("billing").wait_for("token-aud", wait::UI).await?;
            assert_eq!(billing.text, BILLING_API);

            let before = s.counters();
            app.forget("dashboard").await;
            let token_aud = app.mfe("dashboard").wait_for("token-aud", wait::UI).await?;
            assert_eq!(token_aud.text, CORE_API);
            assert_eq!(
                app.webview_count().await?,
                4,
                "Dashboard's webview made again"
            );
            let after = s.counters();
            assert_eq!(
                (after.token_refresh, after.token_authorization_code),
                (before.token_refresh, before.token_authorization_code),
                "the new page's token came from the shell's cache"
            );
            Ok(())
        })
        .await;
}

/// Issue 15.4. A script in an MFE page that navigates away from its origin, opens a pop-up or
/// frames a foreign page opens nothing: it is refused, logged once (before, each navigation
/// opened the person's browser). A link the
/// person clicks opens the browser, at most `BROWSER_OPENS` times (3 at once, then one every
/// 10 s), not once per click; the page stays where it was.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_mfe_cannot_flood_the_system_browser_by_navigating_away() {
    Scenario::builder("browser_flood")
        .start()
        .await
        .expect("scenario setup")
        .run(async |s: &mut Scenario| {
            let app = s.launch().await?;
            let billing = app.mfe("billing");
            billing.wait_for("signed-out", wait::UI).await?;
            let before = billing.eval("return location.href", vec![]).await?;
            // Nothing listens on port 65533 (not one of the ports WebKit never loads): the
            // scripted browser records a failed open at once.
            let tried = billing
                .eval_async(
                    "const done = arguments[arguments.length - 1];
                     (async () => {
                       for (let i = 0; i < 10; i++) {
                         location.href = `http://127.0.0.1:65533/scripted-${i}`;
                         await new Promise((r) => setTimeout(r, 150));
                       }
                       window.open('http://127.0.0.1:65533/scripted-popup');
                       // A script's click on a new-window link is no person's click.
                       const blank = document.createElement('a');
                       blank.href = 'http://127.0.0.1:65533/scripted-blank';
                       blank.target = '_blank';
                       document.body.append(blank);
                       blank.click();
                       // The opener plugin's command, asked directly: MFEs are not granted it.
                       await window.__TAURI_INTERNALS__
                         .invoke('plugin:opener|open_url', { url: 'http://127.0.0.1:65533/scripted-opener' })
                         .catch(() => {});
                       const frame = document.createElement('iframe');
                       frame.src = 'http://127.0.0.1:65533/scripted-frame';
                       document.body.append(frame);
                       done(10);
                     })();",
                    vec![],
                )
                .await?;
            assert_eq!(tried, 10);
            let opened = |prefix: &'static str| browser_opens(s, prefix);
            let log = s.artifacts().join("launch1-app.log");
            let refusals = || {
                std::fs::read_to_string(&log)
                    .unwrap_or_default()
                    .matches("tried to leave its origin without a click")
                    .count()
            };
            wait::until("the refusal to be logged", wait::UI, async || {
                Ok(match refusals() {
                    0 => Check::NotYet("no refusal logged".into()),
                    n => Check::Ready(n),
                })
            })
            .await?;
            assert_eq!(billing.eval("return location.href", vec![]).await?, before);

            // The person clicks a link out of the page, ten times.
            add_link(&billing, "leave", "/clicked", None).await?;
            let started = std::time::Instant::now();
            for _ in 0..10 {
                billing.click("leave").await?;
            }
            wait::until("the browser opens to be recorded", wait::UI, async || {
                Ok(if opened("/clicked") >= 3 {
                    Check::Ready(())
                } else {
                    Check::NotYet(format!("{} opens", opened("/clicked")))
                })
            })
            .await?;
            // Let any open that was going to happen land before counting.
            tokio::time::sleep(Duration::from_secs(2)).await;
            let allowed = 3 + started.elapsed().as_secs() as usize / 10;
            let (clicked, scripted, logged) = (opened("/clicked"), opened("/scripted"), refusals());
            record(
                "10 script navigations, a window.open, a scripted click on a target=_blank link, the opener's command and a foreign iframe",
                "nothing opened",
                if scripted == 0 {
                    "nothing opened"
                } else {
                    "browser opened"
                },
                serde_json::json!({ "browser opens": scripted }),
            );
            record(
                "those refusals in the log",
                "logged once",
                if logged == 1 {
                    "logged once"
                } else {
                    "not logged once"
                },
                serde_json::json!({ "log lines": logged }),
            );
            record(
                "10 clicks on a link out of the MFE",
                "opened within the allowance",
                if (3..=allowed).contains(&clicked) {
                    "opened within the allowance"
                } else {
                    "outside the allowance"
                },
                serde_json::json!({ "browser opens": clicked, "allowed": allowed }),
            );
            assert!(
                (3..=allowed).contains(&opened("/clicked")),
                "{} browser opens for 10 clicks (allowed {allowed})",
                opened("/clicked")
            );
            assert_eq!(opened("/scripted"), 0, "a script opened the browser");
            assert_eq!(refusals(), 1, "refusals without a click are logged once");
            assert_eq!(billing.eval("return location.href", vec![]).await?, before);
            Ok(())
        })
        .await;
}

/// Issue 15.4, the other half: a link the person clicks that opens a new window
/// (`target=_blank`, the usual "open in a new tab") opens the system browser. Before, the opener
/// plugin's link script took such clicks to `plugin:opener|open_url`, which an MFE may not call,
/// and the link did nothing; the shell now registers the opener without that script.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_clicked_link_to_a_new_window_opens_the_system_browser() {
    Scenario::builder("browser_new_window")
        .start()
        .await
        .expect("scenario setup")
        .run(async |s: &mut Scenario| {
            let app = s.launch().await?;
            let billing = app.mfe("billing");
            billing.wait_for("signed-out", wait::UI).await?;
            let before = billing.eval("return location.href", vec![]).await?;
            let webviews = app.webview_count().await?;
            add_link(&billing, "new-window", "/new-window", Some("_blank")).await?;
            billing.click("new-window").await?;
            let opens = wait::until("the system browser to open", wait::UI, async || {
                let opens = browser_opens(s, "/new-window");
                Ok(if opens > 0 {
                    Check::Ready(opens)
                } else {
                    Check::NotYet("no browser opened".into())
                })
            })
            .await;
            let opens = opens.unwrap_or(0);
            record(
                "a click on a target=_blank link in an MFE",
                "opened in the system browser",
                if opens == 1 {
                    "opened in the system browser"
                } else {
                    "did not open"
                },
                serde_json::json!({ "browser opens": opens }),
            );
            assert_eq!(
                opens, 1,
                "browser opens for one click on a target=_blank link"
            );
            assert_eq!(
                billing.eval("return location.href", vec![]).await?,
                before,
                "the MFE's page stays where it was"
            );
            assert_eq!(
                app.webview_count().await?,
                webviews,
                "no webview was made for it"
            );
            Ok(())
        })
        .await;
}

/// Issue 15.3. Each bundled MFE is served on a loopback host and port of its own that are the
/// same in every run (`home_addresses`), so its origin — and what its page stored — is its own
/// again after a restart, and another MFE never sees it: Billing and Dashboard each store a
/// localStorage value and set a cookie; neither sees the other's (cookies ignore ports: when
/// both were on 127.0.0.1, Dashboard read Billing's cookie); after the app is started again each
/// has the same origin and finds its own value and cookie, and still not the other's.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bundled_mfes_keep_their_own_origin_and_storage_across_a_restart() {
    let stamp = now_ms().to_string();
    Scenario::builder("stable_origins")
        .start()
        .await
        .expect("scenario setup")
        .run(async |s: &mut Scenario| {
            let origins = async |app: &App| -> Result<(Value, Value)> {
                let billing = app.mfe("billing");
                billing.wait_for("signed-out", wait::UI).await?;
                let b = billing.eval("return location.origin", vec![]).await?;
                app.select_tab("dashboard").await?;
                let dashboard = app.mfe("dashboard");
                dashboard.wait_for("signed-out", wait::UI).await?;
                let d = dashboard.eval("return location.origin", vec![]).await?;
                Ok((b, d))
            };
            let read = "return localStorage.getItem('portico-e2e-stable-origin')";
            // A persistent cookie (Max-Age), so a restart shows what the jar kept.
            let set = "localStorage.setItem('portico-e2e-stable-origin', arguments[0]); \
                       document.cookie = `portico-e2e-${arguments[1]}=${arguments[0]}; Max-Age=86400; Path=/; SameSite=Lax`; \
                       return document.cookie";
            let cookies = "return document.cookie";
            let billing_cookie = format!("portico-e2e-billing={stamp}");
            let dashboard_cookie = format!("portico-e2e-dashboard={stamp}-d");
            let app = s.launch().await?;
            let (billing_origin, dashboard_origin) = origins(&app).await?;
            assert_ne!(billing_origin, dashboard_origin);
            let own = app
                .mfe("billing")
                .eval(set, vec![Value::from(stamp.clone()), Value::from("billing")])
                .await?;
            assert!(own.as_str().is_some_and(|c| c.contains(&billing_cookie)), "{own}");
            let theirs = app
                .mfe("dashboard")
                .eval(
                    set,
                    vec![Value::from(format!("{stamp}-d")), Value::from("dashboard")],
                )
                .await?;
            let leaked = theirs.as_str().is_none_or(|c| c.contains(&billing_cookie));
            record(
                "Dashboard reads document.cookie after Billing set one",
                "not Billing's cookie",
                if leaked { "Billing's cookie" } else { "not Billing's cookie" },
                Value::Null,
            );
            assert!(
                theirs.as_str().is_some_and(|c| c.contains(&dashboard_cookie) && !c.contains(&billing_cookie)),
                "Dashboard's cookies: {theirs}"
            );
            assert_eq!(
                app.mfe("dashboard").eval(read, vec![]).await?,
                Value::from(format!("{stamp}-d"))
            );
            let billing_sees = app.mfe("billing").eval(cookies, vec![]).await?;
            assert!(
                !billing_sees.as_str().unwrap_or("").contains("portico-e2e-dashboard"),
                "Billing's cookies: {billing_sees}"
            );
            assert_eq!(
                app.mfe("billing").eval(read, vec![]).await?,
                Value::from(stamp.clone())
            );
            let billing_host = billing_origin.as_str().and_then(|o| Url::parse(o).ok());
            let dashboard_host = dashboard_origin.as_str().and_then(|o| Url::parse(o).ok());
            assert_ne!(
                billing_host.as_ref().and_then(|u| u.host_str().map(str::to_owned)),
                dashboard_host.as_ref().and_then(|u| u.host_str().map(str::to_owned)),
                "bundled MFEs on distinct hosts, so distinct cookie jars"
            );
            // WebKit writes local storage to disk shortly after a change, not at once.
            tokio::time::sleep(Duration::from_secs(3)).await;
            s.quit(&app).await?;

            let app = s.launch().await?;
            let again = origins(&app).await?;
            assert_eq!(
                again,
                (billing_origin, dashboard_origin),
                "same origins after a restart"
            );
            assert_eq!(
                app.mfe("dashboard").eval(read, vec![]).await?,
                Value::from(format!("{stamp}-d"))
            );
            assert_eq!(
                app.mfe("billing").eval(read, vec![]).await?,
                Value::from(stamp.clone())
            );
            let billing_sees = app.mfe("billing").eval(cookies, vec![]).await?;
            let dashboard_sees = app.mfe("dashboard").eval(cookies, vec![]).await?;
            let (b, d) = (
                billing_sees.as_str().unwrap_or(""),
                dashboard_sees.as_str().unwrap_or(""),
            );
            let own_only = b.contains(&billing_cookie)
                && !b.contains("portico-e2e-dashboard")
                && d.contains(&dashboard_cookie)
                && !d.contains("portico-e2e-billing");
            record(
                "after a restart: Billing's and Dashboard's cookies",
                "each its own only",
                if own_only { "each its own only" } else { "mixed or lost" },
                Value::Null,
            );
            assert!(
                b.contains(&billing_cookie) && !b.contains("portico-e2e-dashboard"),
                "Billing's cookies after a restart: {b}"
            );
            assert!(
                d.contains(&dashboard_cookie) && !d.contains("portico-e2e-billing"),
                "Dashboard's cookies after a restart: {d}"
            );
            Ok(())
        })
        .await;
}

/// A figure for `cargo xtask reliability` (same format as the broker's suites).
/// Where nothing listens (port 65533, not one WebKit refuses to load), so the scripted browser
/// records a failed open at once.
const NOWHERE: &str = "http://127.0.0.1:65533";

/// A link to `NOWHERE` + `path` at the top of the page, for a person to click.
async fn add_link(page: &View<'_>, testid: &str, path: &str, target: Option<&str>) -> Result<()> {
    page.eval(
        "const [testid, href, target] = arguments;
         const a = document.createElement('a');
         a.href = href;
         if (target) a.target = target;
         a.textContent = testid;
         a.dataset.testid = testid;
         document.body.prepend(a);
         return true",
        vec![
            testid.into(),
            format!("{NOWHERE}{path}").into(),
            target.map_or(Value::Null, Value::from),
        ],
    )
    .await?;
    Ok(())
}

/// How often the system browser was started on a URL whose path starts with `prefix`.
fn browser_opens(s: &Scenario, prefix: &str) -> usize {
    s.browser_events()
        .into_iter()
        .filter(|e| e["path"].as_str().is_some_and(|p| p.starts_with(prefix)))
        .count()
}

fn record(case: &str, expected: &str, outcome: &str, extra: Value) {
    portico_testkit::figures::record("isolation_webviews", case, expected, outcome, extra);
}
