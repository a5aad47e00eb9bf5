//! Broker core, in process, against the real dev-idp on loopback.
//!
//! - `cache_hit/get_token`: a signed-in broker serving a fresh cached token (no I/O). Run it on
//!   one core (`cargo xtask bench` pins it with `taskset`); throughput on one core is 1/latency.
//! - `single_flight/waiters_{1,100}`: the cached token is made stale (manual clock), then N
//!   concurrent callers ask for it; all must share one refresh-token grant. The cost of single
//!   flight is the difference between the two. Requests per round are written to
//!   `single_flight_requests.json` beside the report (expected: 1 per round).

#[path = "support/mod.rs"]
mod support;

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use portico_broker::Dialect;
use std::hint::black_box;
use std::time::{Duration, Instant};
use support::*;

fn cache_hit(c: &mut Criterion) {
    // The provider runs on its own runtime; the measured calls on a current-thread runtime.
    let idp_rt = tokio::runtime::Runtime::new().expect("runtime");
    let signed = idp_rt.block_on(signed_in(Dialect::Auth0, rotating()));
    let (aud, scopes) = audience(1);
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    // Prime the cache (the login already cached core's token; this makes sure).
    rt.block_on(signed.broker.get_token(&aud, &scopes))
        .expect("first token");

    let mut group = c.benchmark_group("cache_hit");
    group.throughput(Throughput::Elements(1));
    group.bench_function("get_token", |b| {
        b.to_async(&rt).iter(|| async {
            black_box(
                signed
                    .broker
                    .get_token(black_box(&aud), black_box(&scopes))
                    .await
                    .expect("cached token"),
            )
        })
    });
    group.finish();
    drop(signed);
}

fn single_flight(c: &mut Criterion) {
    let rt = tokio::runtime::Runtime::new().expect("runtime");
    let signed = rt.block_on(signed_in(Dialect::Auth0, rotating()));
    let (aud, scopes) = audience(1);
    let admin = signed.idp.admin();
    let mut rounds = 0u64;
    let before = admin.counters();

    let mut group = c.benchmark_group("single_flight");
    group.sample_size(30);
    group.measurement_time(Duration::from_secs(8));
    for waiters in [1usize, 100] {
        group.bench_function(format!("waiters_{waiters}"), |b| {
            b.iter_custom(|iters| {
                let mut total = Duration::ZERO;
                for _ in 0..iters {
                    signed.clock.advance(PAST_EXPIRY);
                    rounds += 1;
                    let broker = signed.broker.clone();
                    let (aud, scopes) = (aud.clone(), scopes.clone());
                    total += rt.block_on(async move {
                        let start = Instant::now();
                        let mut set = tokio::task::JoinSet::new();
                        for _ in 0..waiters {
                            let (b, a, s) = (broker.clone(), aud.clone(), scopes.clone());
                            set.spawn(async move { b.get_token(&a, &s).await });
                        }
                        while let Some(r) = set.join_next().await {
                            black_box(r.expect("task").expect("token"));
                        }
                        start.elapsed()
                    });
                }
                total
            })
        });
    }
    group.finish();

    let after = admin.counters();
    let refreshes = after.token_refresh - before.token_refresh;
    let report = serde_json::json!({
        "rounds": rounds,
        "token_refresh_requests": refreshes,
        "requests_per_round": refreshes as f64 / rounds.max(1) as f64,
        "reuse_detections": after.reuse_detections - before.reuse_detections,
    });
    if rounds == 0 {
        // Filtered out by the command line (`--bench cache_hit`): nothing measured, keep the file.
        return;
    }
    let path = out_dir().join("single_flight_requests.json");
    std::fs::write(&path, report.to_string()).expect("write single-flight figures");
    println!("single_flight: {report}");
}

criterion_group!(benches, cache_hit, single_flight);
criterion_main!(benches);
