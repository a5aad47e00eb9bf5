//! JWT header and claims handling for ID tokens: raw compact strings, and structured tokens with
//! arbitrary header (`alg`, `kid`) and claims (`iss`, `aud`, `azp`, `sub`, `exp`, `iat`, `nonce`
//! of any JSON type). Invariants: no panic; nothing ever verifies without the private key (so
//! `alg: none`, HS256-with-the-public-key and friends are refused); only RS256 headers pass; the
//! claim checks accept only what OIDC Core §3.1.3.7 allows.
#![no_main]

use arbitrary::{Arbitrary, Unstructured};
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use libfuzzer_sys::fuzz_target;
use portico_broker::fuzzing;
use serde_json::{json, Map, Value};

#[derive(Arbitrary, Debug)]
enum V {
    Ours,
    Str(String),
    U(u64),
    F(f64),
    Arr(Vec<String>),
    ArrWithOurs(Vec<String>),
    Bool(bool),
    Null,
    Absent,
}

impl V {
    fn value(&self, ours: &Value) -> Option<Value> {
        Some(match self {
            V::Ours => ours.clone(),
            V::Str(s) => json!(s),
            V::U(n) => json!(n),
            V::F(f) => serde_json::Number::from_f64(*f).map_or(Value::Null, Value::Number),
            V::Arr(a) => json!(a),
            V::ArrWithOurs(a) => {
                let mut a: Vec<Value> = a.iter().map(|s| json!(s)).collect();
                a.push(ours.clone());
                Value::Array(a)
            }
            V::Bool(b) => json!(b),
            V::Null => Value::Null,
            V::Absent => return None,
        })
    }
}

#[derive(Arbitrary, Debug)]
struct Token {
    alg: V,
    kid: V,
    typ: V,
    iss: V,
    aud: V,
    azp: V,
    sub: V,
    exp: V,
    iat: V,
    nonce: V,
    signature: Vec<u8>,
    extra_part: bool,
}

fn b64(v: &Value) -> String {
    URL_SAFE_NO_PAD.encode(v.to_string())
}

fn build(t: &Token) -> String {
    let now = fuzzing::NOW_SECS;
    let mut h = Map::new();
    let mut c = Map::new();
    let put = |m: &mut Map<String, Value>, k: &str, v: &V, ours: Value| {
        if let Some(x) = v.value(&ours) {
            m.insert(k.into(), x);
        }
    };
    put(&mut h, "alg", &t.alg, json!("RS256"));
    put(&mut h, "kid", &t.kid, json!("k1"));
    put(&mut h, "typ", &t.typ, json!("JWT"));
    put(&mut c, "iss", &t.iss, json!(fuzzing::ISSUER));
    put(&mut c, "aud", &t.aud, json!(fuzzing::CLIENT_ID));
    put(&mut c, "azp", &t.azp, json!(fuzzing::CLIENT_ID));
    put(&mut c, "sub", &t.sub, json!("auth0|alice"));
    put(&mut c, "exp", &t.exp, json!(now + 600));
    put(&mut c, "iat", &t.iat, json!(now));
    put(&mut c, "nonce", &t.nonce, json!(fuzzing::NONCE));
    let mut s = format!(
        "{}.{}.{}",
        b64(&Value::Object(h)),
        b64(&Value::Object(c)),
        URL_SAFE_NO_PAD.encode(&t.signature)
    );
    if t.extra_part {
        s.push_str(".x");
    }
    s
}

fn payload(token: &str) -> Option<Map<String, Value>> {
    let p = token.split('.').nth(1)?;
    let bytes = URL_SAFE_NO_PAD.decode(p.trim_end_matches('=')).ok()?;
    serde_json::from_slice(&bytes).ok()
}

fn header(token: &str) -> Option<Map<String, Value>> {
    let p = token.split('.').next()?;
    let bytes = URL_SAFE_NO_PAD.decode(p.trim_end_matches('=')).ok()?;
    serde_json::from_slice(&bytes).ok()
}

fn num(v: Option<&Value>) -> Option<f64> {
    v.and_then(Value::as_f64)
}

fn check_accepted_claims(c: &Map<String, Value>, sub: &str, login: bool) {
    let now = fuzzing::NOW_SECS as f64;
    assert_eq!(c.get("iss"), Some(&json!(fuzzing::ISSUER)));
    let auds: Vec<&str> = match c.get("aud") {
        Some(Value::String(s)) => vec![s.as_str()],
        Some(Value::Array(a)) => a.iter().filter_map(Value::as_str).collect(),
        _ => vec![],
    };
    assert!(auds.contains(&fuzzing::CLIENT_ID));
    if auds.len() > 1 || c.contains_key("azp") {
        assert_eq!(c.get("azp"), Some(&json!(fuzzing::CLIENT_ID)));
    }
    assert!(!sub.is_empty());
    assert_eq!(c.get("sub"), Some(&json!(sub)));
    assert!(
        num(c.get("exp")).is_some_and(|e| e + 30.0 > now),
        "expired accepted"
    );
    assert!(
        num(c.get("iat")).is_some_and(|i| i <= now + 30.0),
        "future iat accepted"
    );
    if login {
        assert_eq!(c.get("nonce"), Some(&json!(fuzzing::NONCE)));
    } else {
        assert_eq!(sub, "auth0|alice");
    }
}

fuzz_target!(|data: &[u8]| {
    let token = match data.split_first() {
        Some((mode, rest)) if mode % 2 == 1 => {
            match Token::arbitrary(&mut Unstructured::new(rest)) {
                Ok(t) => build(&t),
                Err(_) => return,
            }
        }
        Some((_, rest)) => String::from_utf8_lossy(rest).into_owned(),
        None => return,
    };
    let v = fuzzing::jwt(&token);
    assert!(
        v.verified.is_err(),
        "verified without the private key: {token}"
    );
    if v.header.is_ok() {
        let h = header(&token).expect("an accepted header parses");
        assert_eq!(h.get("alg"), Some(&json!("RS256")));
    }
    if let Some(Ok(sub)) = &v.claims_login {
        check_accepted_claims(&payload(&token).expect("accepted claims parse"), sub, true);
    }
    if let Some(Ok(sub)) = &v.claims_refresh {
        check_accepted_claims(&payload(&token).expect("accepted claims parse"), sub, false);
    }
});
