//! Inputs the fuzz targets in `fuzz/` found crashing (each kept here after its fix), and the
//! committed seeds replayed through the same entry points, so a plain `cargo test` guards them
//! without libFuzzer.

mod adversarial;
use adversarial::record;
use portico_broker::fuzzing::{self, CallbackVerdict};
use serde_json::json;
use std::path::PathBuf;
use std::time::{Duration, UNIX_EPOCH};

fn seeds(target: &str) -> Vec<(String, Vec<u8>)> {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../../fuzz/seeds")
        .join(target);
    let mut out: Vec<(String, Vec<u8>)> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|e| {
            let p = e.unwrap().path();
            (
                p.file_name().unwrap().to_string_lossy().into_owned(),
                std::fs::read(&p).unwrap(),
            )
        })
        .collect();
    out.sort();
    assert!(!out.is_empty(), "seeds for {target}");
    out
}

#[test]
fn committed_seeds_run_clean_through_every_entry_point() {
    for (name, data) in seeds("callback_url") {
        let text = String::from_utf8_lossy(&data);
        for v in fuzzing::callback(&text) {
            if let CallbackVerdict::Rejected(e) = v {
                assert!(!e.kind().is_empty(), "{name}");
            }
        }
    }
    for (_, data) in seeds("token_response") {
        let _ = fuzzing::token_response(&data[1..], "read:invoices");
    }
    for (name, data) in seeds("jwt") {
        let v = fuzzing::jwt(&String::from_utf8_lossy(&data[1..]));
        assert!(
            v.verified.is_err(),
            "{name}: nothing verifies without the key"
        );
    }
    for (_, data) in seeds("config") {
        let _ = fuzzing::config(&data);
    }
    // The good callback seed is accepted, so the target explores past the checks.
    let good = &seeds("callback_url")[0].1;
    assert!(matches!(
        fuzzing::callback(&String::from_utf8_lossy(good))[0],
        CallbackVerdict::Code(_)
    ));
}

/// token_response crash-cff3881d (found in the first 20 s smoke run): an access token whose `exp`
/// lies ~10^11 years ahead, without `expires_in`, was believed — a cached token that never
/// expires — and `exp = u64::MAX` overflowed `SystemTime` (a panic, i.e. an app abort under
/// `panic = "abort"`), all from one provider response. Now capped at 30 days like `expires_in`.
/// The raw input is kept in `fuzz/regressions/token_response/` for libFuzzer replays.
#[test]
fn token_response_far_future_exp_is_capped() {
    use base64::Engine;
    let b64 = |v: serde_json::Value| {
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(v.to_string())
    };
    let now = UNIX_EPOCH + Duration::from_secs(fuzzing::NOW_SECS);
    for exp in [
        json!(2_660_157_957_122_029_639u64),
        json!(u64::MAX),
        json!(9_223_372_036_854_775_807i64),
    ] {
        let at = format!(
            "{}.{}.sig",
            b64(json!({"alg": "RS256"})),
            b64(json!({"aud": "https://api/x", "exp": exp}))
        );
        let body = json!({"access_token": at, "token_type": "Bearer"}).to_string();
        let v = fuzzing::token_response(body.as_bytes(), "read:x");
        let t = v.token.expect("a token response");
        let life = t.expires_at.duration_since(now).unwrap();
        record(
            "fuzz_regressions",
            &format!("token_response: access token exp {exp}"),
            "capped",
            if life <= Duration::from_secs(86_400 * 30) {
                "capped"
            } else {
                "believed"
            },
            json!({}),
        );
        assert_eq!(life, Duration::from_secs(86_400 * 30), "exp {exp}");
    }
}
