//! Token-endpoint response parsing: raw bodies, and structured ones (a JWT access token with
//! arbitrary `aud`/`exp`/`scope` claims, arbitrary `expires_in`, `scope`, ID token header).
//! Invariants: no panic (e.g. no time overflow from a hostile `exp`); a token never lives longer
//! than 30 days by our clock; OAuth error codes only in RFC 6749 characters.
#![no_main]

use arbitrary::{Arbitrary, Unstructured};
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use libfuzzer_sys::fuzz_target;
use portico_broker::fuzzing;
use serde_json::{json, Value};
use std::time::{Duration, UNIX_EPOCH};

#[derive(Arbitrary, Debug)]
enum Num {
    U(u64),
    I(i64),
    F(f64),
    S(String),
    Null,
}

impl Num {
    fn value(&self) -> Value {
        match self {
            Num::U(n) => json!(n),
            Num::I(n) => json!(n),
            Num::F(f) => serde_json::Number::from_f64(*f).map_or(Value::Null, Value::Number),
            Num::S(s) => json!(s),
            Num::Null => Value::Null,
        }
    }
}

#[derive(Arbitrary, Debug)]
struct Shaped {
    aud: Vec<String>,
    aud_as_string: bool,
    exp: Num,
    expires_in: Option<Num>,
    scope: Option<String>,
    claim_scope: Option<String>,
    scp: Vec<String>,
    refresh_token: Option<String>,
    id_token_alg: Option<String>,
    id_token_kid: Option<Num>,
    requested: String,
}

fn b64(v: &Value) -> String {
    URL_SAFE_NO_PAD.encode(v.to_string())
}

fn shaped(s: &Shaped) -> (Vec<u8>, String) {
    let aud = if s.aud_as_string {
        json!(s.aud.first().cloned().unwrap_or_default())
    } else {
        json!(s.aud)
    };
    let mut claims = json!({ "aud": aud, "exp": s.exp.value(), "scp": s.scp });
    if let Some(sc) = &s.claim_scope {
        claims["scope"] = json!(sc);
    }
    let at = format!("{}.{}.sig", b64(&json!({"alg": "RS256"})), b64(&claims));
    let mut body = json!({ "access_token": at, "token_type": "Bearer" });
    if let Some(e) = &s.expires_in {
        body["expires_in"] = e.value();
    }
    if let Some(sc) = &s.scope {
        body["scope"] = json!(sc);
    }
    if let Some(rt) = &s.refresh_token {
        body["refresh_token"] = json!(rt);
    }
    if let Some(alg) = &s.id_token_alg {
        let mut h = json!({ "alg": alg });
        if let Some(k) = &s.id_token_kid {
            h["kid"] = k.value();
        }
        body["id_token"] = json!(format!("{}.{}.x", b64(&h), b64(&json!({}))));
    }
    (body.to_string().into_bytes(), s.requested.clone())
}

fuzz_target!(|data: &[u8]| {
    let (body, requested) = match data.split_first() {
        Some((mode, rest)) if mode % 2 == 1 => {
            let mut u = Unstructured::new(rest);
            match Shaped::arbitrary(&mut u) {
                Ok(s) => shaped(&s),
                Err(_) => return,
            }
        }
        Some((_, rest)) => (rest.to_vec(), "read:invoices".to_string()),
        None => return,
    };
    let v = fuzzing::token_response(&body, &requested);
    if let Some(code) = &v.oauth_error {
        assert!(!code.is_empty() && code.len() <= 64);
        assert!(code
            .chars()
            .all(|c| matches!(c, '\x20'..='\x21' | '\x23'..='\x5b' | '\x5d'..='\x7e')));
    }
    // The provider's reason reaches people and logs: bounded, no control characters, no JWT.
    if let Some(d) = &v.oauth_error_description {
        assert!(v.oauth_error.is_some());
        assert!(!d.is_empty() && d.chars().count() <= 201, "{d:?}");
        assert!(!d.chars().any(char::is_control), "{d:?}");
        assert!(!d.contains("eyJ"), "{d:?}");
    }
    if let Some(t) = &v.token {
        let now = UNIX_EPOCH + Duration::from_secs(fuzzing::NOW_SECS);
        let life = t
            .expires_at
            .duration_since(now)
            .expect("never expired before issued");
        assert!(
            life <= Duration::from_secs(86_400 * 30),
            "lifetime {life:?}"
        );
        for s in t.granted.iter() {
            assert!(!s.is_empty() && !s.contains(' '));
        }
        let _ = (&t.audiences, t.has_refresh_token, &t.id_token_header);
    }
});
