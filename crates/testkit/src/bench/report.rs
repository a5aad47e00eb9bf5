//! The report of a benchmark run: the targets of issue 7 (reported against, never asserted), the
//! markdown of `target/bench/report.md` and `docs/performance.md`, and the README's summary.

use std::path::Path;

use serde_json::{json, Value};

use super::stats::{cell, fmt};
use super::{io, BenchError};

const README_BEGIN: &str = "<!-- bench:begin";
const README_END: &str = "<!-- bench:end -->";

/// Writes the report to docs/performance.md and its summary into the README, so the figures
/// there are always copied from a run, never typed.
pub fn publish(root: &Path, report: &Value, md: &str) -> Result<(), BenchError> {
    let docs = root.join("docs").join("performance.md");
    std::fs::write(&docs, md).map_err(io(format!("write {}", docs.display())))?;
    let readme_path = root.join("README.md");
    let readme = std::fs::read_to_string(&readme_path).map_err(io("read README.md"))?;
    let (Some(begin), Some(end)) = (readme.find(README_BEGIN), readme.find(README_END)) else {
        return Err(BenchError::Failed(format!(
            "README.md has no `{README_BEGIN} ... {README_END}` block to fill"
        )));
    };
    let mut block =
        format!("{README_BEGIN} (written by `cargo xtask bench --publish`; do not edit) -->\n");
    let m = &report["machine"];
    block.push_str(&format!(
        "Measured {} at commit `{}` on {} · {} cores · WebKitGTK {}. Medians (p50) of the full \
         run; the [full report](docs/performance.md) has p99 and spread for every figure.\n\n",
        report["date"].as_str().unwrap_or("?"),
        report["commit"]["hash"]
            .as_str()
            .map(|h| &h[..h.len().min(10)])
            .unwrap_or("?"),
        m["cpu"].as_str().unwrap_or("?"),
        m["cores"],
        m["webkitgtk"].as_str().unwrap_or("?"),
    ));
    let p50 = |v: &Value| v["p50"].as_f64().map_or("–".to_string(), fmt);
    let w = &report["webview"]["cases"];
    let case = |name: &str| p50(&w[name]["per_call_ms_batch_means"]);
    let st = &report["startup"];
    let mem = &report["memory"];
    let mib = |v: &Value| {
        v["p50"]
            .as_f64()
            .map_or("–".to_string(), |kb| fmt(kb / 1024.0))
    };
    block.push_str(&format!(
        "- Broker, in process: a cached `get_token` takes {} ns on one core.\n\
         - In the webview, per call: JS client cache hit {} ms · `get_token` over IPC {} ms · \
         no-op IPC {} ms · the seed's `postMessage` bridge {} ms.\n\
         - Warm start to three MFEs holding tokens {} ms (same shell without auth: {} ms); \
         sign-in callback to all three tokens {} ms.\n\
         - Memory of the app with its WebKit processes (PSS): {} MiB steady with auth, {} MiB without; \
         {} MiB with MFE webviews made on demand, against {} MiB for the seed's design (one webview, \
         three iframes).\n\n",
        p50(&report["broker"]["cache_hit_get_token"]),
        case("a_client_cache"),
        case("b_ipc_get_token"),
        case("c_ipc_ping"),
        case("d_web_bridge"),
        p50(&st["warm_start_auth_on_ms"]),
        p50(&st["start_auth_off_ms"]),
        p50(&st["login_callback_to_all_tokens"]["ms"]),
        mib(&mem["auth_on"]["steady_pss_kb"]),
        mib(&mem["auth_off"]["steady_pss_kb"]),
        mib(&mem["on_demand"]["steady_pss_kb"]),
        mib(&mem["seed_design"]["steady_pss_kb"]),
    ));
    block.push_str("| target | goal | measured | met |\n|---|---|---|---|\n");
    for t in report["targets"].as_array().into_iter().flatten() {
        block.push_str(&format!(
            "| {} | {} | {} | {} |\n",
            t["name"].as_str().unwrap_or("?"),
            t["target"].as_str().unwrap_or("?"),
            t["measured"].as_f64().map_or("not measured".into(), fmt),
            match t["met"].as_bool() {
                Some(true) => "yes".to_string(),
                Some(false) => format!("no ({})", t["by"].as_str().unwrap_or("")),
                None => "–".to_string(),
            },
        ));
    }
    block.push_str(README_END);
    let updated = format!(
        "{}{}{}",
        &readme[..begin],
        block,
        &readme[end + README_END.len()..]
    );
    std::fs::write(&readme_path, updated).map_err(io("write README.md"))?;
    println!("bench: published to {} and README.md", docs.display());
    Ok(())
}

pub fn targets(r: &Value) -> Value {
    let mut t = Vec::new();
    let mut push =
        |name: &str, target: &str, measured: Option<f64>, limit: f64, unit: &str, exact: bool| {
            let met = measured.map(|m| if exact { m == limit } else { m <= limit });
            let by = measured.map(|m| {
                if exact {
                    format!("{} vs {}", fmt(m), fmt(limit))
                } else if m <= limit {
                    format!("{}% under", fmt((1.0 - m / limit) * 100.0))
                } else {
                    format!(
                        "{}% over ({} {unit} vs {} {unit})",
                        fmt((m / limit - 1.0) * 100.0),
                        fmt(m),
                        fmt(limit)
                    )
                }
            });
            t.push(
            json!({ "name": name, "target": target, "measured": measured, "met": met, "by": by }),
        );
        };
    let f = |v: &Value| v.as_f64();
    push(
        "(a) JS client cache hit, p50",
        "≤ 0.05 ms",
        f(&r["webview"]["cases"]["a_client_cache"]["per_call_ms_batch_means"]["p50"]),
        0.05,
        "ms",
        false,
    );
    push(
        "(b)/(c) get_token IPC over no-op IPC, p50",
        "≤ 1.2",
        f(&r["webview"]["ratio_b_over_c_p50"]),
        1.2,
        "×",
        false,
    );
    // Issue 18.2: Portico's client cache hit at least 100× faster than auth0-spa-js's
    // `getTokenSilently` cache hit in the same page, i.e. (a)/(j) ≤ 0.01.
    push(
        "(a) JS client cache hit over (j) auth0-spa-js getTokenSilently cache hit, p50",
        "≤ 0.01 (≥ 100× faster)",
        f(&r["webview"]["ratio_j_over_a_p50"]).map(|x| 1.0 / x),
        0.01,
        "×",
        false,
    );
    push(
        "native fetch over the page's own fetch with a bearer token, 1 KiB, p50",
        "≤ 1.3",
        f(&r["webview"]["ratio_native_over_page_fetch_1k_p50"]),
        1.3,
        "×",
        false,
    );
    if let Some(rows) = r["provider_load"].as_array() {
        for row in rows {
            let name = row["name"].as_str().unwrap_or("?");
            let worst = row["requests_max"].as_f64();
            push(
                &format!("provider load {name}: token requests per round (max)"),
                "= 3",
                worst,
                3.0,
                "",
                true,
            );
            push(
                &format!("provider load {name}: reuse detections"),
                "= 0",
                f(&row["reuse_detections"]),
                0.0,
                "",
                true,
            );
        }
    }
    push(
        "warm start auth on / auth off, p50",
        "≤ 1.15",
        f(&r["startup"]["ratio_on_over_off_p50"]),
        1.15,
        "×",
        false,
    );
    push(
        "warm start with webviews on demand, first MFE holding its token, auth on / auth off, p50",
        "≤ 1.05",
        f(&r["startup"]["ratio_on_demand_on_over_off_p50"]),
        1.05,
        "×",
        false,
    );
    push(
        "PSS at start, three MFEs registered, one shown, over the seed's one-webview design, p50",
        "≤ 0.9",
        f(&r["memory"]["ratio_pss_on_demand_over_seed_p50"]),
        0.9,
        "×",
        false,
    );
    push(
        "PSS once all three MFEs were shown, over the seed's design, p50",
        "≤ 1.15",
        f(&r["memory"]["all_shown"]["ratio_all_shown_over_seed_p50"]),
        1.15,
        "×",
        false,
    );
    push(
        "steady PSS auth on / auth off, p50",
        "≤ 1.05",
        f(&r["memory"]["ratio_steady_pss_on_over_off_p50"]),
        1.05,
        "×",
        false,
    );
    push(
        "steady RSS auth on / auth off, p50",
        "≤ 1.05",
        f(&r["memory"]["ratio_steady_on_over_off_p50"]),
        1.05,
        "×",
        false,
    );
    push(
        "peak RSS auth on / auth off, p50",
        "≤ 1.05",
        f(&r["memory"]["ratio_peak_on_over_off_p50"]),
        1.05,
        "×",
        false,
    );
    json!(t)
}

pub fn markdown(r: &Value) -> String {
    let mut md = String::new();
    let m = &r["machine"];
    md.push_str("# Portico benchmark report\n\n");
    md.push_str(&format!(
        "- commit `{}`{}\n- date {}\n- machine: {} · {} cores · {} MiB · kernel {} · {} · WebKitGTK {}\n- load average at start: {}\n\n",
        r["commit"]["hash"].as_str().unwrap_or("?"),
        if r["commit"]["dirty_worktree"] == json!(true) { " (uncommitted changes in the worktree)" } else { "" },
        r["date"].as_str().unwrap_or("?"),
        m["cpu"].as_str().unwrap_or("?"),
        m["cores"],
        m["memory_mib"],
        m["kernel"].as_str().unwrap_or("?"),
        m["rustc"].as_str().unwrap_or("?"),
        m["webkitgtk"].as_str().unwrap_or("?"),
        m["load_average_at_start"].as_str().unwrap_or("?"),
    ));
    md.push_str("Cells are **p50 / p99 (IQR as % of the median)**.\n\n");

    let b = &r["broker"];
    if !b.is_null() {
        md.push_str("## 1. Broker core, in process\n\n| what | p50 / p99 (spread) | unit |\n|---|---|---|\n");
        md.push_str(&format!(
            "| cache-hit `get_token`, one core | {} | ns |\n| → throughput on one core (1/p50) | {} | calls/s |\n",
            cell(&b["cache_hit_get_token"]),
            fmt(b["cache_hit_throughput_per_s_one_core"].as_f64().unwrap_or(f64::NAN)),
        ));
        let sf = &b["single_flight"];
        md.push_str(&format!(
            "| refresh, 1 caller (stale cache → one grant on loopback) | {} | µs |\n| refresh, 100 concurrent waiters | {} | µs |\n| → cost of 99 extra waiters (p50 difference) | {} | µs |\n| → provider requests per round | {} | |\n\n",
            cell(&sf["waiters_1"]),
            cell(&sf["waiters_100"]),
            fmt(sf["extra_cost_of_99_waiters_us_p50"].as_f64().unwrap_or(f64::NAN)),
            sf["provider_requests"]["requests_per_round"],
        ));
    }
    if let Some(w) = r.get("webview").filter(|w| !w.is_null()) {
        md.push_str("## 2. In the real webview (WebKitGTK, release build, one page, one run)\n\n| case | per call, batch means | per call, single calls |\n|---|---|---|\n");
        for (name, label) in [
            ("a_client_cache", "(a) JS client cache hit (`getToken`)"),
            (
                "b_ipc_get_token",
                "(b) `get_token` over IPC, cached natively",
            ),
            ("c_ipc_ping", "(c) no-op IPC (`mfe_ping`)"),
            (
                "d_web_bridge",
                "(d) seed's web bridge (postMessage, cross-origin iframe)",
            ),
            (
                "e_ipc_context",
                "(e) diagnostic: `mfe_context` over IPC (identifies the caller; no broker, no push)",
            ),
            (
                "f_native_fetch_1k",
                "(f) 1 KiB from the loopback API through the shell's native `fetch`",
            ),
            (
                "g_page_fetch_1k",
                "(g) 1 KiB with the page's own `fetch` and a bearer token from `getToken`",
            ),
            (
                "h_native_fetch_100k",
                "(h) 100 KiB through the shell's native `fetch`",
            ),
            (
                "i_page_fetch_100k",
                "(i) 100 KiB with the page's own `fetch` and a bearer token",
            ),
            (
                "j_auth0_cache",
                "(j) auth0-spa-js cache hit (`getTokenSilently`, `cacheLocation: 'memory'`)",
            ),
            (
                "k_auth0_refresh",
                "(k) auth0-spa-js refresh (`cacheMode: 'off'`: refresh-token grant from the page)",
            ),
            (
                "l_ipc_miss",
                "(l) `get_token` over IPC, native cache miss (refresh-token grant by the shell)",
            ),
        ] {
            md.push_str(&format!(
                "| {label} | {} ms | {} ms |\n",
                cell(&w["cases"][name]["per_call_ms_batch_means"]),
                cell(&w["cases"][name]["per_call_ms_single"]),
            ));
        }
        md.push_str(&format!(
            "\n(b)/(c) = **{}**, (a)/(d) = **{}** (p50 of batch means). Page timer resolution {} ms; all cases returned the same token: {}.\n\n",
            fmt(w["ratio_b_over_c_p50"].as_f64().unwrap_or(f64::NAN)),
            fmt(w["ratio_a_over_d_p50"].as_f64().unwrap_or(f64::NAN)),
            w["timer_resolution_ms"],
            w["same_token_in_all_cases"],
        ));
        md.push_str(&format!(
            "Native fetch over the page's own: (f)/(g) = **{}** at 1 KiB, (h)/(i) = **{}** at 100 KiB (p50 of batch means).\n\n",
            fmt(w["ratio_native_over_page_fetch_1k_p50"].as_f64().unwrap_or(f64::NAN)),
            fmt(w["ratio_native_over_page_fetch_100k_p50"].as_f64().unwrap_or(f64::NAN)),
        ));
        let a0 = &w["auth0_spa_js"];
        let miss = &w["ipc_miss"];
        md.push_str(&format!(
            "auth0-spa-js {} in the same page, against the same dev-idp: (j)/(a) = **{}** (cache hits), (k)/(l) = **{}** (refresh paths; means: {}), p50 of batch means. Distinct tokens: (k) {} of {} calls, (l) {} of {}; refresh-token grants at the provider while the cases ran: {}.\n\n",
            a0["version"].as_str().unwrap_or("?"),
            fmt(w["ratio_j_over_a_p50"].as_f64().unwrap_or(f64::NAN)),
            fmt(w["ratio_k_over_l_p50"].as_f64().unwrap_or(f64::NAN)),
            fmt(w["ratio_k_over_l_mean"].as_f64().unwrap_or(f64::NAN)),
            a0["k_distinct_tokens"],
            a0["k_calls"],
            miss["l_distinct_tokens"],
            miss["l_calls"],
            w["provider_grants_during_run"]["refresh_token"],
        ));
        for what in [&a0["config"], &miss["what"]] {
            if let Some(t) = what.as_str() {
                md.push_str(&format!("- {t}.\n"));
            }
        }
        md.push('\n');
    }
    if let Some(rows) = r["provider_load"].as_array() {
        md.push_str("## 3. Provider load: 300 concurrent callers, 3 audiences, cache empty\n\n| dialect, rotation | token requests per round (min–max) | wall time to all tokens, ms | reuse detections | failed calls |\n|---|---|---|---|---|\n");
        for row in rows {
            md.push_str(&format!(
                "| {} | {}–{} | {} | {} | {} |\n",
                row["name"].as_str().unwrap_or("?"),
                row["requests_min"],
                row["requests_max"],
                cell(&row["wall_ms"]),
                row["reuse_detections"],
                row["failed_calls"],
            ));
        }
        md.push('\n');
    }
    let s = &r["startup"];
    if !s.is_null() {
        md.push_str("## 4. Start-up (three MFEs)\n\n| what | ms |\n|---|---|\n");
        md.push_str(&format!(
            "| warm start, auth on (refresh token in keyring) → all three MFEs hold tokens | {} |\n| same shell, auth off → all three MFEs shown | {} |\n| → ratio on/off (p50) | {} |\n| → ratio on/off (fastest runs) | {} |\n| sign-in callback delivered → all three MFEs hold tokens | {} |\n| webviews on demand: warm start → the first MFE holds its token | {} |\n| webviews on demand, auth off → the first MFE shown | {} |\n| → ratio on/off, on demand (p50; fastest runs) | {}; {} |\n| the seed's design (one webview, three iframes, postMessage bridge): warm start → all three frames hold tokens | {} |\n| → Portico (all three MFEs) over the seed's design (p50) | {} |\n\n",
            cell(&s["warm_start_auth_on_ms"]),
            cell(&s["start_auth_off_ms"]),
            fmt(s["ratio_on_over_off_p50"].as_f64().unwrap_or(f64::NAN)),
            fmt(s["ratio_on_over_off_min"].as_f64().unwrap_or(f64::NAN)),
            cell(&s["login_callback_to_all_tokens"]["ms"]),
            cell(&s["on_demand_first_mfe_token_ms"]),
            cell(&s["on_demand_auth_off_first_mfe_shown_ms"]),
            fmt(s["ratio_on_demand_on_over_off_p50"].as_f64().unwrap_or(f64::NAN)),
            fmt(s["ratio_on_demand_on_over_off_min"].as_f64().unwrap_or(f64::NAN)),
            cell(&s["seed_design_three_tokens_ms"]),
            fmt(s["ratio_on_over_seed_p50"].as_f64().unwrap_or(f64::NAN)),
        ));
        if let Some(means) = s["auth_off_means"].as_str() {
            md.push_str(&format!("Auth off: {means}.\n\n"));
        }
    }
    let mem = &r["memory"];
    if !mem.is_null() {
        let mib = |v: &Value| {
            let mut v = v.clone();
            for k in ["p50", "p99", "p25", "p75", "min", "max", "mean"] {
                if let Some(x) = v[k].as_f64() {
                    v[k] = json!(x / 1024.0);
                }
            }
            cell(&v)
        };
        md.push_str("## 5. Memory: app + WebKit processes, three MFEs\n\n| | auth on, MiB | auth off, MiB | on/off (p50) |\n|---|---|---|---|\n");
        md.push_str(&format!(
            "| steady PSS, webviews on demand (first MFE only at start) | {} | | {} of eager |\n| steady PSS (sum over the tree) | {} | {} | {} |\n| steady RSS (sum over the tree) | {} | {} | {} |\n| peak RSS (highest sampled sum) | {} | {} | {} |\n| sum of per-process VmHWM | {} | {} | |\n\n",
            mib(&mem["on_demand"]["steady_pss_kb"]),
            fmt(mem["ratio_pss_on_demand_over_eager_p50"].as_f64().unwrap_or(f64::NAN)),
            mib(&mem["auth_on"]["steady_pss_kb"]),
            mib(&mem["auth_off"]["steady_pss_kb"]),
            fmt(mem["ratio_steady_pss_on_over_off_p50"].as_f64().unwrap_or(f64::NAN)),
            mib(&mem["auth_on"]["steady_rss_kb"]),
            mib(&mem["auth_off"]["steady_rss_kb"]),
            fmt(mem["ratio_steady_on_over_off_p50"].as_f64().unwrap_or(f64::NAN)),
            mib(&mem["auth_on"]["peak_rss_kb"]),
            mib(&mem["auth_off"]["peak_rss_kb"]),
            fmt(mem["ratio_peak_on_over_off_p50"].as_f64().unwrap_or(f64::NAN)),
            mib(&mem["auth_on"]["sum_of_vmhwm_kb"]),
            mib(&mem["auth_off"]["sum_of_vmhwm_kb"]),
        ));
        let shown = &mem["all_shown"];
        let ratio = |v: &Value| fmt(v.as_f64().unwrap_or(f64::NAN));
        md.push_str(
            "### Side by side with the seed's design (PSS)

| design | PSS, MiB | over the seed's design (p50) |
|---|---|---|
",
        );
        md.push_str(&format!(
            "| the seed's design: the chrome plus one webview, three cross-origin iframes | {} | 1 |\n| Portico, webviews on demand, first MFE shown | {} | {} |\n| Portico, all three webviews made at start | {} | {} |\n| *started through tauri-driver, to click the tabs:* the seed's design | {} | 1 |\n| Portico on demand, first MFE shown | {} | {} |\n| Portico on demand, after all three tabs were shown | {} | {} |\n| the same, once the two hidden MFEs were freed (`unloadAfterSecs`) | {} | {} |\n\n",
            mib(&mem["seed_design"]["steady_pss_kb"]),
            mib(&mem["on_demand"]["steady_pss_kb"]),
            ratio(&mem["ratio_pss_on_demand_over_seed_p50"]),
            mib(&mem["auth_on"]["steady_pss_kb"]),
            ratio(&mem["ratio_pss_eager_over_seed_p50"]),
            mib(&shown["seed_design_pss_kb"]),
            mib(&shown["on_demand_first_shown_pss_kb"]),
            ratio(&shown["ratio_first_shown_over_seed_p50"]),
            mib(&shown["on_demand_all_shown_pss_kb"]),
            ratio(&shown["ratio_all_shown_over_seed_p50"]),
            mib(&shown["on_demand_after_unload_pss_kb"]),
            ratio(&shown["ratio_after_unload_over_seed_p50"]),
        ));
        for what in [&mem["seed_design"]["what"], &shown["what"]] {
            if let Some(w) = what.as_str() {
                md.push_str(&format!("- {w}.\n"));
            }
        }
        md.push_str("- The seed's token round trip (its `postMessage` bridge) against Portico's is case (d) against (a) and (b) in part 2.\n\n");
    }
    md.push_str("## Targets (reported, not asserted)\n\n| target | goal | measured | met | by |\n|---|---|---|---|---|\n");
    for t in r["targets"].as_array().into_iter().flatten() {
        md.push_str(&format!(
            "| {} | {} | {} | {} | {} |\n",
            t["name"].as_str().unwrap_or("?"),
            t["target"].as_str().unwrap_or("?"),
            t["measured"].as_f64().map_or("not measured".into(), fmt),
            match t["met"].as_bool() {
                Some(true) => "yes",
                Some(false) => "**no**",
                None => "–",
            },
            t["by"].as_str().unwrap_or(""),
        ));
    }
    if let Some(errs) = r["errors"].as_array().filter(|e| !e.is_empty()) {
        md.push_str("\n## Not measured in this run\n\n");
        for e in errs {
            md.push_str(&format!("- {}\n", e.as_str().unwrap_or("?")));
        }
    }
    md
}
