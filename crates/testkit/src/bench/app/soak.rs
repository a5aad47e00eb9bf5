//! `cargo xtask soak --minutes N` (issue 18.4): the release app with three MFEs against the
//! release dev-idp issuing 30-second access tokens with refresh-token rotation, left running.
//! Each MFE gets its token and calls its demo API with it every few seconds, like a busy page;
//! the broker refreshes ahead of expiry. Every 30 s the soak records the app tree's PSS and RSS,
//! the provider's counters (token requests, reuse detections, refused requests) and how the MFEs'
//! calls ended. It writes `target/soak/report.{json,md}`; `--publish` puts the summary into
//! `docs/reliability.md` between the `soak:begin`/`soak:end` markers.

use std::collections::BTreeMap;
use std::path::Path;
use std::time::{Duration, Instant};

use serde_json::{json, Value};

use super::{
    anon_pss_of_tree, pss_of_tree, sample_memory, start_ctx, Ctx, ANALYTICS, BILLING, CORE,
    STARTUP_MFES,
};
use crate::bench::stats::Stats;
use crate::bench::{io, json_err, BenchError, Inputs, Result};
use crate::machine::{utc_now, Commit, Machine};

/// Access-token lifetime the provider issues during the soak.
const ACCESS_TTL_SECS: u64 = 30;
/// How often each MFE gets its token and calls its API.
const CALL_EVERY_SECS: u64 = 3;
/// How often the soak samples memory and counters.
const SAMPLE_EVERY: Duration = Duration::from_secs(30);
/// The broker's timing for 30-second tokens (its defaults assume tokens of an hour): a token is
/// handed out with at least 10 s left, and one in use is refreshed 15 s before it expires.
const BROKER_ENV: [(&str, &str); 3] = [
    ("PORTICO_MIN_TTL_SECS", "10"),
    ("PORTICO_REFRESH_SKEW_SECS", "15"),
    ("PORTICO_REFRESH_CHECK_SECS", "5"),
];

/// One look at the running app.
struct Sample {
    at_s: f64,
    pss_kb: u64,
    anon_kb: u64,
    rss_kb: u64,
    counters: Value,
    calls_ok: u64,
    calls_failed: u64,
}

/// Runs the soak for `minutes` and returns its report (also written under `out`).
pub(in crate::bench) async fn soak(
    minutes: u64,
    publish: bool,
    inputs: &Inputs,
    out: &Path,
) -> Result<Value> {
    // The commit the app was built from and when it started: an hour later the tree may have
    // moved on.
    let commit = Commit::of(&inputs.root);
    let started = utc_now("+%Y-%m-%dT%H:%M:%SZ").unwrap_or_default();
    let ttl = ACCESS_TTL_SECS.to_string();
    let (ctx, mut idp) = start_ctx(inputs, out, &["--access-ttl", &ttl]).await?;
    let result = run(&ctx, minutes).await;
    idp.stop(Duration::from_secs(3));
    let mut report = result?;
    let machine = Machine::detect();
    report["commit"] = commit.json();
    report["commit_line"] = json!(commit.line());
    report["date"] = json!(started);
    report["machine"] = machine.json();
    report["machine_line"] = json!(machine.line());
    let text = serde_json::to_string_pretty(&report).map_err(json_err("soak report"))?;
    std::fs::write(out.join("report.json"), text).map_err(io("write target/soak/report.json"))?;
    let md = markdown(&report);
    std::fs::write(out.join("report.md"), &md).map_err(io("write target/soak/report.md"))?;
    println!("\n{md}");
    if publish {
        publish_block(&inputs.root, &md)?;
    }
    Ok(report)
}

async fn run(ctx: &Ctx, minutes: u64) -> Result<Value> {
    let issuer = url::Url::parse(&ctx.issuer)
        .map_err(|e| BenchError::Failed(format!("the soak provider's issuer: {e}")))?;
    let apis =
        portico_dev_idp::DemoApis::start(&issuer, &portico_dev_idp::IdpConfig::portico_demo().apis)
            .await
            .map_err(|e| BenchError::Failed(format!("the demo APIs: {e}")))?;
    let api = |aud: &str| -> Result<String> {
        apis.url_for(aud)
            .map(|u| u.to_string())
            .ok_or_else(|| BenchError::Failed(format!("no demo API for {aud}")))
    };
    let mfe = |id: &str, aud: &str, scopes: &[&str], first: bool| -> Result<Value> {
        Ok(json!({
            "id": id, "title": id,
            "source": { "bundled": "bench/mfe" },
            "audiences": [aud], "scopes": scopes, "preload": true,
            "settings": {
                "auth": true, "signIn": first, "report": ctx.listener.url,
                "soakEverySecs": CALL_EVERY_SECS, "apiUrl": api(aud)?,
            },
        }))
    };
    let config = ctx.write_config(
        "soak",
        &json!({
            "provider": ctx.provider(),
            "mfes": [
                mfe("billing", BILLING, &["read:invoices"], true)?,
                mfe("dashboard", CORE, &["read:dashboard"], false)?,
                mfe("analytics", ANALYTICS, &["read:reports"], false)?,
            ],
        }),
    )?;
    let service = format!("portico-soak-{}", std::process::id());
    let mut env = ctx.env(&config, &service);
    env.extend(
        BROKER_ENV
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string())),
    );

    let mut app = ctx.launch(&env, "soak-app.log")?;
    let callback = ctx.sign_in(Duration::from_secs(60)).await?;
    let mut second = ctx.deliver(&env, &callback)?;
    let firsts = ctx
        .listener
        .wait_for(&STARTUP_MFES, Duration::from_secs(60))
        .await?;
    let _ = second.wait();
    if let Some(bad) = firsts.iter().find(|r| r.what != "token") {
        app.group.stop(Duration::from_secs(5));
        return Err(BenchError::Failed(format!(
            "MFE {} reported {} after the sign-in",
            bad.mfe, bad.what
        )));
    }
    println!(
        "soak: signed in; {minutes} min with {ACCESS_TTL_SECS} s tokens, a call per MFE every {CALL_EVERY_SECS} s"
    );

    let start = Instant::now();
    let at_start = ctx.counters().await;
    let length = Duration::from_secs(minutes * 60);
    let mut samples: Vec<Sample> = Vec::new();
    let mut exited = None;
    loop {
        let next = SAMPLE_EVERY * (samples.len() as u32);
        if let Some(wait) = next.checked_sub(start.elapsed()) {
            tokio::time::sleep(wait).await;
        }
        if let Some(status) = app.group.exit_status() {
            exited = Some(status.to_string());
            break;
        }
        let pid = app.group.pid();
        let (calls_ok, calls_failed) = call_counts(ctx);
        let s = Sample {
            at_s: start.elapsed().as_secs_f64(),
            pss_kb: pss_of_tree(pid),
            anon_kb: anon_pss_of_tree(pid),
            rss_kb: sample_memory(pid).rss_kb,
            counters: ctx.counters().await,
            calls_ok,
            calls_failed,
        };
        println!(
            "soak: {:>5.0} s  PSS {:>4} MiB (anon {:>4})  refreshes {:>5}  reuse {}  calls ok {:>6}  failed {}",
            s.at_s,
            s.pss_kb / 1024,
            s.anon_kb / 1024,
            delta(&at_start, &s.counters, "token_refresh"),
            delta(&at_start, &s.counters, "reuse_detections"),
            s.calls_ok,
            s.calls_failed
        );
        samples.push(s);
        if start.elapsed() >= length {
            break;
        }
    }
    app.group.stop(Duration::from_secs(5));
    summarize(ctx, minutes, &at_start, &samples, exited)
}

/// The MFEs' soak calls so far: (ok, failed).
fn call_counts(ctx: &Ctx) -> (u64, u64) {
    let reports = ctx.listener.reports();
    let ok = reports.iter().filter(|r| r.what == "call-ok").count();
    let failed = reports
        .iter()
        .filter(|r| r.what.starts_with("call-failed"))
        .count();
    (ok as u64, failed as u64)
}

fn delta(before: &Value, after: &Value, key: &str) -> u64 {
    after[key]
        .as_u64()
        .unwrap_or(0)
        .saturating_sub(before[key].as_u64().unwrap_or(0))
}

fn summarize(
    ctx: &Ctx,
    minutes: u64,
    at_start: &Value,
    samples: &[Sample],
    exited: Option<String>,
) -> Result<Value> {
    let last = samples
        .last()
        .ok_or_else(|| BenchError::Failed("the soak took no sample".into()))?;
    let mut failures: BTreeMap<String, u64> = BTreeMap::new();
    for r in ctx.listener.reports() {
        if let Some(why) = r.what.strip_prefix("call-failed:") {
            *failures.entry(format!("{}: {why}", r.mfe)).or_default() += 1;
        }
    }
    // Baseline: minutes 1–5, once start-up has settled; end: the last five minutes (or, in a
    // short run, the first and last fifth of the samples).
    let span = last.at_s;
    let (base, end) = if span >= 20.0 * 60.0 {
        ((60.0, 300.0), (span - 300.0, span))
    } else {
        ((0.0, span / 5.0), (span * 0.8, span))
    };
    // The median of one figure over a window of the run.
    let median = |(from, to): (f64, f64), of: fn(&Sample) -> u64| -> f64 {
        let v: Vec<f64> = samples
            .iter()
            .filter(|s| s.at_s >= from && s.at_s <= to)
            .map(|s| of(s) as f64)
            .collect();
        Stats::of(&v).map_or(f64::NAN, |s| s.p50)
    };
    let (base_kb, end_kb) = (median(base, |s| s.pss_kb), median(end, |s| s.pss_kb));
    let (base_anon, end_anon) = (median(base, |s| s.anon_kb), median(end, |s| s.anon_kb));
    let max_kb = samples.iter().map(|s| s.pss_kb).max().unwrap_or(0);
    let series: Vec<Value> = samples
        .iter()
        .map(|s| {
            json!({
                "at_s": s.at_s.round(),
                "pss_kb": s.pss_kb,
                "anon_pss_kb": s.anon_kb,
                "rss_kb": s.rss_kb,
                "token_refresh": delta(at_start, &s.counters, "token_refresh"),
                "reuse_detections": delta(at_start, &s.counters, "reuse_detections"),
                "token_errors": delta(at_start, &s.counters, "token_errors"),
                "calls_ok": s.calls_ok,
                "calls_failed": s.calls_failed,
            })
        })
        .collect();
    let key = |k: &str| delta(at_start, &last.counters, k);
    Ok(json!({
        "generated_by": "cargo xtask soak",
        "minutes_asked": minutes,
        "seconds_run": span.round(),
        "app_exited_early": exited,
        "access_token_ttl_s": ACCESS_TTL_SECS,
        "rotation": true,
        "call_every_s": CALL_EVERY_SECS,
        "broker_env": BROKER_ENV.iter().map(|(k, v)| format!("{k}={v}")).collect::<Vec<_>>(),
        "mfes": STARTUP_MFES,
        "token_requests": {
            "refresh": key("token_refresh"),
            "authorization_code": key("token_authorization_code"),
            "refused": key("token_errors"),
            "by_audience": last.counters["refresh_by_audience"],
        },
        "reuse_detections": key("reuse_detections"),
        "families_revoked": key("families_revoked"),
        "calls": { "ok": last.calls_ok, "failed": last.calls_failed, "failures": failures },
        "pss": {
            "baseline_kb": base_kb,
            "end_kb": end_kb,
            "max_kb": max_kb,
            "growth": end_kb / base_kb - 1.0,
            "anon_baseline_kb": base_anon,
            "anon_end_kb": end_anon,
            "anon_growth": end_anon / base_anon - 1.0,
            "note": "PSS splits shared pages among every process mapping them, so another copy of WebKit running on the machine lowers it for as long as it runs; Pss_Anon (heaps) is not changed by that and is what a leak grows",
        },
        "series": series,
        "what": "the release app, three bundled MFEs (one token audience each), signed in once; the provider issues 30 s access tokens and rotates refresh tokens; each MFE gets its token and calls its demo API with it every 3 s; counters are the provider's own since the sign-in; PSS is summed over the app's process tree",
    }))
}

fn markdown(r: &Value) -> String {
    let mib = |v: &Value| {
        v.as_f64()
            .map_or("–".into(), |kb| format!("{:.0}", kb / 1024.0))
    };
    let failures = r["calls"]["failures"]
        .as_object()
        .filter(|m| !m.is_empty())
        .map(|m| {
            m.iter()
                .map(|(k, v)| format!("{k} ×{v}"))
                .collect::<Vec<_>>()
                .join(", ")
        })
        .unwrap_or_else(|| "none".into());
    let growth = r["pss"]["growth"].as_f64().unwrap_or(f64::NAN) * 100.0;
    let mut md = String::new();
    md.push_str(&format!(
        "Soak run of {} s ({} min asked) started {} · commit `{}` · {}.\n\n",
        r["seconds_run"],
        r["minutes_asked"],
        r["date"].as_str().unwrap_or(""),
        r["commit_line"].as_str().unwrap_or(""),
        r["machine_line"].as_str().unwrap_or(""),
    ));
    md.push_str(&format!(
        "The release app with three MFEs, signed in once; the dev provider issues {} s access \
         tokens and rotates refresh tokens; each MFE gets its token and calls its API with it \
         every {} s. Broker timing: {}.\n\n",
        r["access_token_ttl_s"],
        r["call_every_s"],
        r["broker_env"]
            .as_array()
            .map(|a| a
                .iter()
                .filter_map(Value::as_str)
                .collect::<Vec<_>>()
                .join(", "))
            .unwrap_or_default(),
    ));
    md.push_str("| what | measured | target |\n|---|---|---|\n");
    md.push_str(&format!(
        "| refresh-token grants (token requests) | {} ({} refused) | |\n",
        r["token_requests"]["refresh"], r["token_requests"]["refused"]
    ));
    md.push_str(&format!(
        "| reuse detections | {} | 0 |\n",
        r["reuse_detections"]
    ));
    md.push_str(&format!(
        "| MFE calls (token + API) ok / failed | {} / {} | 0 failed |\n",
        r["calls"]["ok"], r["calls"]["failed"]
    ));
    md.push_str(&format!("| failures | {failures} | |\n"));
    md.push_str(&format!(
        "| PSS at the start (minutes 1–5) → end (last 5 min), MiB | {} → {} (max {}) | |\n",
        mib(&r["pss"]["baseline_kb"]),
        mib(&r["pss"]["end_kb"]),
        mib(&r["pss"]["max_kb"]),
    ));
    md.push_str(&format!(
        "| PSS growth over the run | {growth:.1}% | ≤ 5% |\n"
    ));
    md.push_str(&format!(
        "| anonymous memory (`Pss_Anon`: heaps), start → end, MiB | {} → {} ({:.1}%) | |\n",
        mib(&r["pss"]["anon_baseline_kb"]),
        mib(&r["pss"]["anon_end_kb"]),
        r["pss"]["anon_growth"].as_f64().unwrap_or(f64::NAN) * 100.0,
    ));
    if let Some(e) = r["app_exited_early"].as_str() {
        md.push_str(&format!("\n**The app exited early:** {e}.\n"));
    }
    md.push_str(
        "\nPSS counts shared pages split among every process mapping them, so another WebKit \
         app running on the machine lowers it while it runs; `Pss_Anon` is not moved by that. \
         PSS and counters every 30 s are in `target/soak/report.json` (`series`).\n",
    );
    md
}

/// Replaces the soak block of docs/reliability.md (kept there when the rest is regenerated).
fn publish_block(root: &Path, md: &str) -> Result<()> {
    let path = root.join("docs").join("reliability.md");
    let text = std::fs::read_to_string(&path).map_err(io("read docs/reliability.md"))?;
    let block = format!("<!-- soak:begin -->\n## Soak\n\n{md}<!-- soak:end -->");
    let updated = match (
        text.find("<!-- soak:begin -->"),
        text.find("<!-- soak:end -->"),
    ) {
        (Some(a), Some(b)) if a < b => {
            format!(
                "{}{block}{}",
                &text[..a],
                &text[b + "<!-- soak:end -->".len()..]
            )
        }
        _ => format!("{}\n\n{block}\n", text.trim_end()),
    };
    std::fs::write(&path, updated).map_err(io("write docs/reliability.md"))?;
    println!("soak: published into {}", path.display());
    Ok(())
}
