//! Provider load: 300 concurrent callers over 3 audiences, all arriving while no token is cached,
//! with refresh-token rotation on and off, in both dialects. Per round: token-endpoint requests
//! made (the minimum possible is 3, one per audience), wall time until every caller holds its
//! token, and the provider's reuse detections. Not a criterion bench: these are counts, and each
//! round changes provider state. Writes `provider_load.json` beside the report.

#[path = "support/mod.rs"]
mod support;

use portico_broker::Dialect;
use portico_dev_idp::RefreshRotation;
use serde_json::json;
use std::time::Instant;
use support::*;

const CALLERS: usize = 300;
const ROUNDS: usize = 30;

#[derive(Default)]
struct Figures {
    wall_ms: Vec<f64>,
    requests: Vec<u64>,
    reuse_detections: u64,
    token_errors: u64,
    families_revoked: u64,
    failed_calls: u64,
    wrong_audience: u64,
}

async fn run(dialect: Dialect, rotation: RefreshRotation) -> Figures {
    let signed = signed_in(dialect, rotation).await;
    let admin = signed.idp.admin();
    let mut f = Figures::default();
    for _ in 0..ROUNDS {
        // Every cached token (including the sign-in's) is now stale.
        signed.clock.advance(PAST_EXPIRY);
        let before = admin.counters();
        let start = Instant::now();
        let mut set = tokio::task::JoinSet::new();
        for i in 0..CALLERS {
            let broker = signed.broker.clone();
            let (aud, scopes) = audience(i);
            set.spawn(async move {
                let r = broker.get_token(&aud, &scopes).await;
                (aud, r)
            });
        }
        while let Some(joined) = set.join_next().await {
            match joined {
                Ok((aud, Ok(grant))) => {
                    if grant.audience != aud.as_str() {
                        f.wrong_audience += 1;
                    }
                }
                _ => f.failed_calls += 1,
            }
        }
        f.wall_ms.push(start.elapsed().as_secs_f64() * 1e3);
        let after = admin.counters();
        f.requests.push(after.token_refresh - before.token_refresh);
        f.reuse_detections += after.reuse_detections - before.reuse_detections;
        f.token_errors += after.token_errors - before.token_errors;
        f.families_revoked += after.families_revoked - before.families_revoked;
    }
    f
}

fn summary(
    name: &str,
    dialect: Dialect,
    rotation: RefreshRotation,
    f: &Figures,
) -> serde_json::Value {
    let mut wall = f.wall_ms.clone();
    wall.sort_by(f64::total_cmp);
    let mut req = f.requests.clone();
    req.sort_unstable();
    json!({
        "name": name,
        "dialect": format!("{dialect:?}"),
        "rotation": matches!(rotation, RefreshRotation::Rotating { .. }),
        "callers": CALLERS,
        "audiences": AUDIENCES.len(),
        "rounds": ROUNDS,
        "requests_min": req.first(),
        "requests_max": req.last(),
        "requests_total": f.requests.iter().sum::<u64>(),
        "requests_per_round": f.requests,
        "wall_ms": {
            "p50": percentile(&wall, 50.0),
            "p99": percentile(&wall, 99.0),
            "min": wall.first(),
            "max": wall.last(),
            "p25": percentile(&wall, 25.0),
            "p75": percentile(&wall, 75.0),
        },
        "reuse_detections": f.reuse_detections,
        "token_errors": f.token_errors,
        "families_revoked": f.families_revoked,
        "failed_calls": f.failed_calls,
        "wrong_audience": f.wrong_audience,
    })
}

fn main() {
    // `cargo bench` passes `--bench`; a filter argument is not supported here.
    let rt = tokio::runtime::Runtime::new().expect("runtime");
    let mut rows = Vec::new();
    for dialect in [Dialect::Auth0, Dialect::Rfc8707] {
        for (label, rotation) in [
            ("rotation_on", rotating()),
            ("rotation_off", RefreshRotation::NonRotating),
        ] {
            let name = format!("{}_{label}", format!("{dialect:?}").to_lowercase());
            let f = rt.block_on(run(dialect, rotation));
            let row = summary(&name, dialect, rotation, &f);
            println!(
                "provider_load {name}: requests/round {}..{}, wall p50 {:.2} ms p99 {:.2} ms, reuse detections {}, failed calls {}",
                row["requests_min"], row["requests_max"], row["wall_ms"]["p50"].as_f64().unwrap_or(f64::NAN),
                row["wall_ms"]["p99"].as_f64().unwrap_or(f64::NAN), f.reuse_detections, f.failed_calls
            );
            rows.push(row);
        }
    }
    let path = out_dir().join("provider_load.json");
    std::fs::write(&path, serde_json::to_string_pretty(&rows).expect("json"))
        .expect("write provider_load.json");
    println!("provider_load: wrote {}", path.display());
}
